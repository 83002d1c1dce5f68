using Microsoft.FSharp.Collections;
using Vae.Core;
using static Vae.Core.Experiments;
using static Vae.Core.Outcomes;

namespace Vae.Reporting;

/// <summary>The results of a run, from the core's outcomes: every repeat's numbers, each model's summary over its
/// repeats, and each experiment's verdicts.</summary>
public static class RunResults
{
    /// <summary>The results of a run of the experiments <paramref name="outcomes"/>, named <paramref name="run"/>.</summary>
    /// <param name="run">The run's name.</param>
    /// <param name="startedUtc">When it began.</param>
    /// <param name="quick">Whether it trained on a small subset for a smoke test.</param>
    /// <param name="outcomes">The core's outcomes, in the order the experiments ran.</param>
    /// <param name="lanes">Models trained at once.</param>
    /// <param name="threadsPerModel">libtorch threads each model trained with.</param>
    public static RunResult Of(string run, DateTime startedUtc, bool quick, IEnumerable<ExperimentOutcome> outcomes, int lanes, int threadsPerModel) =>
        new(run, startedUtc, quick, outcomes.Select(Experiment).ToArray(), lanes, threadsPerModel);

    private static RepeatResult Repeat(string experiment, ModelOutcome m, long seed) => new(
        m.Repeat,
        seed,
        m.Training.BestEpoch,
        m.Training.Best.ToResult(),
        m.Test.ToResult() with { IwaeNll = m.IwaeNll?.Value, IwaeNllStandardError = m.IwaeStandardError?.Value },
        m.ActiveUnits,
        new ProbeResult(m.Probe.Linear, m.Probe.Knn, m.Probe.PcaLinear, m.Probe.PcaKnn),
        m.GenerationDistance,
        m.FittedGenerationDistance,
        m.TrainingSeconds)
    {
        Epochs = m.Training.History.Select(e => e.ToResult()).ToArray(),
        Checkpoint = m.ReusedFrom?.Value is { } source
            ? RunLayout.Checkpoint(source.Item1, source.Item2, m.Repeat)
            : RunLayout.Checkpoint(experiment, m.Spec.Name, m.Repeat),
        MeasureSeconds = m.MeasureSeconds,
        LikelihoodSeconds = m.LikelihoodSeconds,
    };

    /// <summary>The results of one experiment of a run.</summary>
    public static ExperimentResult Experiment(ExperimentOutcome o)
    {
        var name = o.Definition.Name;
        var data = o.Data.ToResult();
        var originals = o.Originals.ToRows();
        var labels = o.TestLabels.data<long>().ToArray().Select(l => (int)l).ToArray();
        var models = o.Models.Select(m =>
        {
            var repeats = o.RepeatsOf(m.Spec.Name).Select(r => Repeat(name, r, o.Training.Seed + r.Repeat)).ToArray();
            var measurements = ListModule.OfSeq(o.RepeatsOf(m.Spec.Name).Select(r => r.Measurements));
            var summary = Metrics.all
                .Select(metric => (metric.Key, Summary: Metrics.summarise(metric, measurements)))
                .Where(p => p.Summary is not null)
                .ToDictionary(p => p.Key, p => p.Summary.Value.ToResult());
            var reused = m.ReusedFrom?.Value;
            var first = repeats[0];
            return new ModelResult(
                m.Spec.Name,
                m.Architecture.Kind.ToResult(),
                m.Architecture.Hidden.ToArray(),
                m.Architecture.Latent,
                ArchitectureModule.parameterCount(m.Architecture),
                m.Training.BestEpoch,
                m.Training.History.Select(e => e.ToResult()).ToArray(),
                first.Test,
                m.TrainingSeconds,
                m.GenerationDistance,
                reused?.Item1,
                reused is null ? RunLayout.Checkpoint(name, m.Spec.Name) : RunLayout.Checkpoint(reused.Item1, reused.Item2),
                RunLayout.ModelImages(name, m.Spec.Name),
                m.ActiveUnits,
                m.KlPerDimension,
                first.Probe,
                m.FittedGenerationDistance,
                repeats,
                summary)
            {
                Samples = new ModelSamples(
                    m.Generated.ToRows(), originals, m.Reconstructions.ToRows(), m.Latent2d.Column(0), m.Latent2d.Column(1), labels,
                    m.GeneratedFitted.ToRows(), m.Interpolation.ToRows(), data.Interpolation, m.Traversal.ToRows(), m.TraversalDimensions.ToArray()),
                Input = m.Architecture.Input,
                Conv = m.Architecture.Conv.ToArray(),
                Beta = m.Architecture.Beta,
            };
        }).ToArray();
        return new ExperimentResult(
            name, o.Definition.Description, o.StartedUtc, o.Training.Seed, models, o.Best?.Value.Spec.Name, RunLayout.ExperimentImages(name),
            o.Repeats.Length, Verdicts(models), o.Analysis.IwaeSamples, o.Analysis.IwaeImages)
        {
            MaxEpochs = o.Training.MaxEpochs,
            Diverged = o.Diverged.Select(d => new DivergedModel(
                d.Spec.Name,
                d.Architecture.Kind.ToResult(),
                d.Architecture.Hidden.ToArray(),
                d.Architecture.Latent,
                ArchitectureModule.parameterCount(d.Architecture),
                d.Trainings.Select(t => new DivergedRepeat(
                    t.Item1, o.Training.Seed + t.Item1, t.Item2.DivergedAt?.Value, t.Item2.History.Select(e => e.ToResult()).ToArray())).ToArray())
            {
                Input = d.Architecture.Input,
                Conv = d.Architecture.Conv.ToArray(),
                Beta = d.Architecture.Beta,
            }).ToArray(),
            Data = data,
        };
    }

    private static IReadOnlyList<MetricVerdict> Verdicts(IReadOnlyList<ModelResult> models) =>
        Metrics.all.Where(metric => metric.Judged).SelectMany(metric =>
        {
            var candidates = models.Where(m => m.Summary.ContainsKey(metric.Key)).ToArray();
            var verdict = Metrics.judge(metric, ListModule.OfSeq(candidates.Select(m => Tuple.Create(m.Name, m.Kind.HasPosterior(), m.Summary[metric.Key].ToCore()))));
            MetricSummary Of(string model) => candidates.First(m => m.Name == model).Summary[metric.Key];
            MetricVerdict Verdict(string best, string? runnerUp, bool clear) =>
                new MetricVerdict(metric.Key, metric.Label, metric.Better.IsLower, best, Of(best), runnerUp, runnerUp is null ? null : Of(runnerUp), clear).WithTest();
            return verdict?.Value switch
            {
                Statistics.Verdict.Clear c => new[] { Verdict(c.best, c.runnerUp, true) },
                Statistics.Verdict.WithinNoise w => [Verdict(w.best, w.runnerUp, false)],
                Statistics.Verdict.Alone a => [Verdict(a.best, null, false)],
                _ => [],
            };
        }).ToArray();
}
