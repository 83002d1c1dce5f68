using System.Text;
using Microsoft.FSharp.Core;

namespace Vae.Reporting;

/// <summary>Writes the files that present a run: pictures, results and the report, in the run folder at the paths
/// of <see cref="RunLayout"/> and of the results' own <c>Images</c> records.</summary>
public static class Report
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Writes, under <paramref name="runFolder"/> (created if missing; existing files are replaced):
    /// for each model, <c>loss.png</c>, <c>generated.png</c>, <c>generated-fitted.png</c>, <c>reconstruction.png</c>,
    /// <c>interpolation.png</c>, <c>traversal.png</c> and <c>kl-per-dim.png</c>; for each experiment,
    /// <c>latent-space.png</c>, <c>best-validation-loss.png</c>, <c>validation-curves.png</c> and its own
    /// <c>results.json</c>; at the root <c>results.json</c>, <c>epochs.csv</c> (every epoch of every repeat),
    /// <c>metrics.csv</c> (every repeat's metrics), <c>report.md</c> and <c>report.html</c> (one offline page with
    /// interactive charts); and under <c>tensorboard/</c> an event file per training (<see cref="RunLayout.TensorBoardEvents"/>).
    /// The text and event files are written whole or not at all (a temporary file renamed). Tables give each metric's mean ± standard deviation over the repeats, and
    /// each experiment's verdict says which differences between models a t-test confirms; the validation curves show
    /// every repeat, the other pictures each model's first repeat.
    /// </summary>
    /// <param name="run">The run's results, with every model's <see cref="ModelResult.Samples"/>.</param>
    /// <param name="runFolder">The run folder; every path in <paramref name="run"/> is relative to it.</param>
    /// <param name="cancellationToken">Checked between files; a cancelled report leaves the files written so far.</param>
    /// <exception cref="ArgumentException">The run is malformed: no experiments or models, duplicate names, a best
    /// epoch that is not one of the epochs, not nine images of the data's size, latent arrays of different lengths, no repeats,
    /// a KL per dimension or traversal that does not fit the latent size, a verdict naming an unknown model, or a
    /// picture path outside the run folder. The message names the experiment, the model and the field.</exception>
    public static async Task WriteAsync(RunResult run, string runFolder, CancellationToken cancellationToken = default)
    {
        RunChecks.Validate(run);
        ArgumentException.ThrowIfNullOrWhiteSpace(runFolder);
        Directory.CreateDirectory(runFolder);
        string At(string relative) => Path.Combine(runFolder, relative);

        foreach (var experiment in run.Experiments)
        {
            var data = experiment.Data;
            foreach (var model in experiment.Models)
            {
                await Draw(() => LossCurvesPng.Write(model, At(model.Images.LossCurves)), cancellationToken);
                await Draw(() => ImageGridPng.WriteGenerated(model, data, At(model.Images.Generated)), cancellationToken);
                await Draw(() => ImageGridPng.WriteReconstruction(model, data, At(model.Images.Reconstruction)), cancellationToken);
                await Draw(() => ImageGridPng.WriteGeneratedFitted(model, data, At(model.Images.GeneratedFitted)), cancellationToken);
                await Draw(() => LatentWalkPng.WriteInterpolation(model, data, At(model.Images.Interpolation)), cancellationToken);
                await Draw(() => LatentWalkPng.WriteTraversal(model, data, At(model.Images.Traversal)), cancellationToken);
                await Draw(() => KlPerDimensionPng.Write(model, At(model.Images.KlPerDim)), cancellationToken);
            }
            if (experiment.Models.Count > 0)
            {
                await Draw(() => LatentSpacePng.Write(experiment, At(experiment.Images.LatentSpace)), cancellationToken);
                await Draw(() => BestValidationLossPng.Write(experiment, At(experiment.Images.BestValidationLoss)), cancellationToken);
                await Draw(() => ValidationCurvesPng.Write(experiment, At(experiment.Images.ValidationCurves)), cancellationToken);
            }
            await WriteText(At(RunLayout.ExperimentResults(experiment.Experiment)), ResultsJson.Serialize(experiment), cancellationToken);
        }
        await WriteText(At(RunLayout.Results), ResultsJson.Serialize(run), cancellationToken);
        await WriteText(At(RunLayout.EpochsCsv), EpochsCsv.Of(run), cancellationToken);
        await WriteText(At(RunLayout.MetricsCsv), MetricsCsv.Of(run), cancellationToken);
        foreach (var (path, bytes) in TensorBoardLogs.Files(run))
            await WriteBytes(At(path), bytes, cancellationToken);

        var blocks = await Task.Run(() => ReportContent.Build(run), cancellationToken);
        await WriteText(At(RunLayout.ReportMarkdown), MarkdownRenderer.Render(blocks), cancellationToken);
        await WriteText(At(RunLayout.ReportHtml), HtmlRenderer.Render($"VAE study: {run.Run}", blocks), cancellationToken);
    }

    /// <summary>Drawing is CPU work; it runs on the thread pool so that a caller's UI or console stays responsive.</summary>
    private static Task Draw(Action draw, CancellationToken cancellationToken) => Task.Run(draw, cancellationToken);

    private static Task WriteText(string path, string text, CancellationToken cancellationToken) =>
        WriteBytes(path, Utf8.GetBytes(text), cancellationToken);

    /// <summary>Writes the file whole or not at all (Core.Safetensors.writeAtomically: a temporary file beside it,
    /// flushed, renamed over it), so that a run stopped while writing never leaves a file that looks finished and is
    /// not; the temporary file a killed writer left is removed first, so that a resumed run's folder is that of a run
    /// never stopped.</summary>
    private static Task WriteBytes(string path, byte[] bytes, CancellationToken cancellationToken) => Task.Run(() =>
    {
        cancellationToken.ThrowIfCancellationRequested();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Core.Safetensors.removeTemporaries(path);
        Core.Safetensors.writeAtomically(path, FuncConvert.FromAction<Stream>(stream => stream.Write(bytes)));
    }, cancellationToken);
}
