using Microsoft.FSharp.Core;

namespace Vae.Reporting;

/// <summary><c>metrics.csv</c>: every repeat of every measured model, one row each, with a column per metric of the
/// registry (Core.Metrics.all, by key), so that a new metric is a new column without a change here.</summary>
internal static class MetricsCsv
{
    /// <summary>The columns that say which training a row is, before the metrics.</summary>
    public static readonly IReadOnlyList<string> Identifiers =
        ["experiment", "model", "kind", "hidden", "latent", "repeat", "seed", "best_epoch"];

    /// <summary>Every column: the identifiers, then each metric's key in the registry's order.</summary>
    public static IReadOnlyList<string> Columns => Identifiers.Concat(Core.Metrics.all.Select(m => m.Key)).ToArray();

    /// <summary>The file's text: the header, then per experiment (run order), model (definition order) and repeat
    /// (0-based, as in results.json) the metrics as the registry reads them from that repeat's numbers, the numbers
    /// the summaries of results.json are made from; a metric the model does not have (an autoencoder's IWAE NLL, the
    /// β-weighted loss of a model trained with β = 1) is an empty cell. Diverged models were not measured and have
    /// no row (their epochs are in epochs.csv).</summary>
    public static string Of(RunResult run) =>
        string.Concat(Rows(run).Prepend(Columns).Select(Csv.Row));

    private static IEnumerable<IReadOnlyList<string>> Rows(RunResult run) =>
        from experiment in run.Experiments
        from model in experiment.Models
        from repeat in model.Repeats
        let measurements = repeat.ToCore(model.Beta)
        select (IReadOnlyList<string>)
        [
            experiment.Experiment, model.Name, ResultsJson.Word(model.Kind),
            string.Join("-", model.Hidden.Select(h => Csv.Integer(h))), Csv.Integer(model.Latent),
            Csv.Integer(repeat.Repeat), Csv.Integer(repeat.Seed), Csv.Integer(repeat.BestEpoch),
            .. Core.Metrics.all.Select(metric => Value(metric.Read.Invoke(measurements))),
        ];

    private static string Value(FSharpOption<double>? value) => value is null ? "" : Csv.Number(value.Value);
}
