namespace Vae.Reporting;

/// <summary>Where a run puts each file, relative to the run folder. One place, so that the runner, the
/// reports and the tests agree.</summary>
public static class RunLayout
{
    /// <summary>Every experiment of the run with its models: <c>results.json</c> at the root.</summary>
    public const string Results = "results.json";

    /// <summary>The report as Markdown, with the PNGs.</summary>
    public const string ReportMarkdown = "report.md";

    /// <summary>The report as one offline HTML page with interactive charts (plotly.js inlined).</summary>
    public const string ReportHtml = "report.html";

    /// <summary>The folder of an experiment; it holds the experiment's own <c>results.json</c>.</summary>
    public static string ExperimentFolder(string experiment) => experiment;

    /// <summary>The folder of a model of an experiment.</summary>
    public static string ModelFolder(string experiment, string model) => $"{experiment}/{model}";

    /// <summary>The experiment's results (the same object as its entry in the root <c>results.json</c>).</summary>
    public static string ExperimentResults(string experiment) => $"{experiment}/results.json";

    /// <summary>A model's checkpoint: its first repeat's weights.</summary>
    public static string Checkpoint(string experiment, string model) => $"{ModelFolder(experiment, model)}/model.safetensors";

    /// <summary>The checkpoint of repeat <paramref name="repeat"/> (0-based) of a model: the first is
    /// <see cref="Checkpoint(string, string)"/>, the others <c>model-r2.safetensors</c>, <c>model-r3.safetensors</c>, ….</summary>
    public static string Checkpoint(string experiment, string model, int repeat) =>
        repeat == 0 ? Checkpoint(experiment, model) : $"{ModelFolder(experiment, model)}/model-r{repeat + 1}.safetensors";

    /// <summary>The paths of a model's pictures.</summary>
    public static ModelImages ModelImages(string experiment, string model) => new(
        LossCurves: $"{ModelFolder(experiment, model)}/loss.png",
        Generated: $"{ModelFolder(experiment, model)}/generated.png",
        Reconstruction: $"{ModelFolder(experiment, model)}/reconstruction.png",
        GeneratedFitted: $"{ModelFolder(experiment, model)}/generated-fitted.png",
        Interpolation: $"{ModelFolder(experiment, model)}/interpolation.png",
        Traversal: $"{ModelFolder(experiment, model)}/traversal.png",
        KlPerDim: $"{ModelFolder(experiment, model)}/kl-per-dim.png");

    /// <summary>The paths of an experiment's pictures.</summary>
    public static ExperimentImages ExperimentImages(string experiment) => new(
        LatentSpace: $"{experiment}/latent-space.png",
        BestValidationLoss: $"{experiment}/best-validation-loss.png",
        ValidationCurves: $"{experiment}/validation-curves.png");
}
