namespace Vae.Reporting;

/// <summary><c>epochs.csv</c>: every epoch of every repeat of every model, the diverged ones included, one row each:
/// the losses results.json holds in each repeat's <c>epochs</c>, for pandas or a spreadsheet.</summary>
internal static class EpochsCsv
{
    /// <summary>The columns, in order.</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["experiment", "model", "kind", "repeat", "epoch", "train_recon", "train_kl", "val_recon", "val_kl", "seconds"];

    /// <summary>The file's text: the header, then per experiment (run order) each measured model (definition order),
    /// then each diverged model, by repeat (0-based, as in results.json) and epoch. A loss that was not finite (the
    /// epoch a model diverged) is an empty cell.</summary>
    public static string Of(RunResult run) =>
        string.Concat(Rows(run).Prepend(Columns).Select(Csv.Row));

    private static IEnumerable<IReadOnlyList<string>> Rows(RunResult run) =>
        from experiment in run.Experiments
        from training in Training.Of(experiment)
        from epoch in training.Epochs.OrderBy(e => e.Epoch)
        select (IReadOnlyList<string>)
        [
            experiment.Experiment, training.Model, ResultsJson.Word(training.Kind), Csv.Integer(training.Repeat),
            Csv.Integer(epoch.Epoch), Csv.Number(epoch.TrainRecon), Csv.Number(epoch.TrainKl), Csv.Number(epoch.ValRecon),
            Csv.Number(epoch.ValKl), Csv.Number(epoch.Seconds),
        ];
}
