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

    /// <summary>Every epoch of every repeat of every model, one row each, as CSV.</summary>
    public const string EpochsCsv = "epochs.csv";

    /// <summary>Every repeat of every measured model, one row each with a column per metric of the registry, as CSV.</summary>
    public const string MetricsCsv = "metrics.csv";

    /// <summary>The folder of the TensorBoard event files: <c>tensorboard --logdir RUN/tensorboard</c>.</summary>
    public const string TensorBoard = "tensorboard";

    /// <summary>The TensorBoard folder of one training: <c>tensorboard/&lt;experiment&gt;/&lt;model&gt;</c> when the
    /// experiment trains each model once, else one folder per repeat, <c>r1</c>, <c>r2</c>, … (1-based, like the
    /// checkpoints' <c>model-r2</c> and the jobs' <c>r2</c>: <c>r1</c> is results.json's repeat 0), so that TensorBoard
    /// lists every repeat as a run of its own.</summary>
    /// <param name="experiment">The experiment.</param>
    /// <param name="model">The model.</param>
    /// <param name="repeat">0-based repeat, as in results.json.</param>
    /// <param name="repeats">How many times the experiment trains each model.</param>
    public static string TensorBoardFolder(string experiment, string model, int repeat, int repeats) =>
        repeats > 1 ? $"{TensorBoard}/{experiment}/{model}/r{repeat + 1}" : $"{TensorBoard}/{experiment}/{model}";

    /// <summary>The event file of one training. TensorBoard reads every file whose name contains "tfevents" and
    /// merges those of a folder; the usual name carries the time of writing, the host and the process, this one
    /// nothing, so that writing a run's files again (a resumed or merged run) replaces the file rather than adding a
    /// second copy of its events.</summary>
    /// <param name="experiment">The experiment.</param>
    /// <param name="model">The model.</param>
    /// <param name="repeat">0-based repeat, as in results.json.</param>
    /// <param name="repeats">How many times the experiment trains each model.</param>
    public static string TensorBoardEvents(string experiment, string model, int repeat, int repeats) =>
        $"{TensorBoardFolder(experiment, model, repeat, repeats)}/events.out.tfevents.vae";

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
