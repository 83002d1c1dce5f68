using Microsoft.FSharp.Core;
using TorchSharp;

namespace Vae.Reporting;

/// <summary>Between the core's F# values and the results records.</summary>
public static class CoreConversions
{
    /// <summary>The kind of a core model.</summary>
    public static ModelKind ToResult(this Core.ModelKind kind) =>
        kind.IsVae ? ModelKind.Vae : ModelKind.Autoencoder;

    /// <summary>One epoch of a core training history.</summary>
    public static EpochReport ToResult(this Core.Training.EpochRecord e) =>
        new(e.Epoch, e.TrainReconstruction, e.TrainKl, e.ValidationReconstruction, e.ValidationKl, e.Seconds);

    /// <summary>A core evaluation on a split.</summary>
    public static LossBreakdown ToResult(this Core.Evaluation.Evaluation e) => new(e.Reconstruction, e.Kl, e.Loss);

    /// <summary>A core summary over repeats.</summary>
    public static MetricSummary ToResult(this Core.Statistics.Summary s) => new(s.Mean, s.Std, s.Count);

    /// <summary>A summary over repeats, for the core's statistics.</summary>
    public static Core.Statistics.Summary ToCore(this MetricSummary s) => new(s.Mean, s.Std, s.Count);

    /// <summary>One repeat's numbers as the registry's metrics (Core.Metrics.all) read them: the same values the façade
    /// summarised into results.json (RunResults, from the core's own measurements), here read back from the results.</summary>
    /// <param name="repeat">The repeat.</param>
    /// <param name="beta">Its model's KL weight (<see cref="ModelResult.Beta"/>).</param>
    public static Core.Metrics.Measurements ToCore(this RepeatResult repeat, double beta) => new(
        repeat.Best.ValLoss,
        repeat.Test.Recon,
        repeat.Test.Kl,
        repeat.Test.Loss,
        repeat.Test.IwaeNll is { } iwae ? FSharpOption<double>.Some(iwae) : FSharpOption<double>.None,
        repeat.ActiveUnits,
        repeat.Probe.LinearAccuracy,
        repeat.Probe.KnnAccuracy,
        repeat.GenerationDistance,
        repeat.FittedGenerationDistance,
        repeat.TrainingSeconds,
        beta);

    /// <summary>A core data-set description.</summary>
    public static DataSetResult ToResult(this Core.Data.Description d) => new(
        d.Name, d.Folder?.Value, d.Height, d.Width, d.Classes.ToArray(), [d.Interpolation.Item1, d.Interpolation.Item2],
        d.TrainImages, d.TestImages, d.Files.ToDictionary(f => f.Item1, f => f.Item2));

    /// <summary>Rows of a [n; d] tensor as float arrays.</summary>
    public static IReadOnlyList<float[]> ToRows(this torch.Tensor t)
    {
        using var contiguous = t.detach().to_type(torch.ScalarType.Float32).contiguous();
        var all = contiguous.data<float>().ToArray();
        var columns = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(i => all.AsSpan(i * columns, columns).ToArray()).ToArray();
    }

    /// <summary>One column of a [n; d] tensor.</summary>
    public static IReadOnlyList<float> Column(this torch.Tensor t, int column)
    {
        using var c = t.select(1, column).to_type(torch.ScalarType.Float32).contiguous();
        return c.data<float>().ToArray();
    }
}
