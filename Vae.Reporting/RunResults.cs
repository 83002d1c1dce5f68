using Microsoft.FSharp.Collections;
using Vae.Core;
using static Vae.Core.Experiments;

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

    /// <summary>The metrics summarised over repeats: key, words, lower is better, VAEs only, value.</summary>
    private static readonly (string Key, string Label, bool Lower, bool VaeOnly, Func<RepeatResult, double?> Value)[] Metrics =
    [
        ("valLoss", "validation loss", true, false, r => r.Best.ValLoss),
        ("testRecon", "test reconstruction", true, false, r => r.Test.Recon),
        ("testKl", "test KL", true, true, r => r.Test.Kl),
        ("testLoss", "test loss (negative ELBO)", true, true, r => r.Test.Loss),
        ("iwaeNll", "test log-likelihood (IWAE negative log-likelihood)", true, true, r => r.Test.IwaeNll),
        ("activeUnits", "latent usage (active units)", false, false, r => r.ActiveUnits),
        ("linearAccuracy", "feature quality (linear probe accuracy)", false, false, r => r.Probe.LinearAccuracy),
        ("knnAccuracy", "feature quality (5-NN accuracy)", false, false, r => r.Probe.KnnAccuracy),
        ("generationDistance", "generation from N(0, I) (Fréchet distance to the test images)", true, false, r => r.GenerationDistance),
        ("fittedGenerationDistance", "generation from a fitted Gaussian (Fréchet distance to the test images)", true, false, r => r.FittedGenerationDistance),
        ("trainingSeconds", "training time", true, false, r => r.TrainingSeconds),
    ];

    /// <summary>Metrics that get a verdict (training time and KL are summarised, not judged).</summary>
    private static readonly string[] Judged =
        ["valLoss", "testRecon", "testLoss", "iwaeNll", "activeUnits", "linearAccuracy", "knnAccuracy", "generationDistance", "fittedGenerationDistance"];

    private static RepeatResult Repeat(ModelOutcome m, long seed) => new(
        m.Repeat,
        seed,
        m.Training.BestEpoch,
        m.Training.Best.ToResult(),
        m.Test.ToResult() with { IwaeNll = m.IwaeNll?.Value },
        m.ActiveUnits,
        new ProbeResult(m.Probe.Linear, m.Probe.Knn, m.Probe.PcaLinear, m.Probe.PcaKnn),
        m.GenerationDistance,
        m.FittedGenerationDistance,
        m.TrainingSeconds);

    /// <summary>The results of one experiment of a run.</summary>
    public static ExperimentResult Experiment(ExperimentOutcome o)
    {
        var name = o.Definition.Name;
        var originals = o.Originals.ToRows();
        var labels = o.TestLabels.data<long>().ToArray().Select(l => (int)l).ToArray();
        var models = o.Models.Select(m =>
        {
            var repeats = o.RepeatsOf(m.Spec.Name).Select(r => Repeat(r, o.Training.Seed + r.Repeat)).ToArray();
            var summary = Metrics
                .Select(metric => (metric.Key, Values: repeats.Select(metric.Value).ToArray()))
                .Where(p => p.Values.All(v => v.HasValue))
                .ToDictionary(p => p.Key, p => Summarise(p.Values.Select(v => v!.Value)));
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
                    // The interpolation runs between the first test T-shirt/top (class 0) and sneaker (class 7).
                    m.GeneratedFitted.ToRows(), m.Interpolation.ToRows(), [0, 7], m.Traversal.ToRows(), m.TraversalDimensions.ToArray()),
            };
        }).ToArray();
        return new ExperimentResult(
            name, o.Definition.Description, o.StartedUtc, o.Training.Seed, models, o.Best?.Value.Spec.Name, RunLayout.ExperimentImages(name),
            o.Repeats.Length, Verdicts(models), o.Analysis.IwaeSamples, o.Analysis.IwaeImages)
        {
            Diverged = o.Diverged.Select(d => new DivergedModel(
                d.Spec.Name,
                d.Architecture.Kind.ToResult(),
                d.Architecture.Hidden.ToArray(),
                d.Architecture.Latent,
                ArchitectureModule.parameterCount(d.Architecture),
                d.Trainings.Select(t => new DivergedRepeat(
                    t.Item1, o.Training.Seed + t.Item1, t.Item2.DivergedAt?.Value, t.Item2.History.Select(e => e.ToResult()).ToArray())).ToArray())).ToArray(),
        };
    }

    private static MetricSummary Summarise(IEnumerable<double> values)
    {
        var s = Core.Statistics.summarise(ListModule.OfSeq(values));
        return new MetricSummary(s.Mean, s.Std, s.Count);
    }

    private static IReadOnlyList<MetricVerdict> Verdicts(IReadOnlyList<ModelResult> models) =>
        Metrics.Where(m => Judged.Contains(m.Key)).SelectMany(metric =>
        {
            var candidates = models
                .Where(m => !metric.VaeOnly || m.Kind == ModelKind.Vae)
                .Where(m => m.Summary.ContainsKey(metric.Key))
                .ToArray();
            if (candidates.Length == 0) return [];
            var summaries = ListModule.OfSeq(candidates
                .Select(m => (m.Name, m.Summary[metric.Key]))
                .Select(p => Tuple.Create(p.Name, new Core.Statistics.Summary(p.Item2.Mean, p.Item2.Std, p.Item2.Count))));
            var verdict = Core.Statistics.verdict(metric.Lower ? Core.Statistics.Better.Lower : Core.Statistics.Better.Higher, summaries);
            MetricSummary Of(string model) => candidates.First(m => m.Name == model).Summary[metric.Key];
            return verdict switch
            {
                Core.Statistics.Verdict.Clear c => new[] { new MetricVerdict(metric.Key, metric.Label, metric.Lower, c.best, Of(c.best), c.runnerUp, Of(c.runnerUp), true) },
                Core.Statistics.Verdict.WithinNoise w => [new MetricVerdict(metric.Key, metric.Label, metric.Lower, w.best, Of(w.best), w.runnerUp, Of(w.runnerUp), false)],
                Core.Statistics.Verdict.Alone a => [new MetricVerdict(metric.Key, metric.Label, metric.Lower, a.best, Of(a.best), null, null, false)],
                _ => [],
            };
        }).ToArray();
}
