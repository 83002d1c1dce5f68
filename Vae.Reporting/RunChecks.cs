namespace Vae.Reporting;

/// <summary>Checks a run before anything is written, so that a malformed result fails with a message naming the
/// experiment, the model and the field rather than half-way through, or with a picture silently wrong.</summary>
internal static class RunChecks
{
    /// <summary>Throws <see cref="ArgumentException"/> describing the first problem found.</summary>
    public static void Validate(RunResult run)
    {
        ArgumentNullException.ThrowIfNull(run);
        Require(run.Experiments.Count > 0, $"run '{run.Run}' has no experiments");
        Require(Unique(run.Experiments.Select(e => e.Experiment)), $"run '{run.Run}' has two experiments with the same name");
        foreach (var experiment in run.Experiments)
        {
            var where = $"experiment '{experiment.Experiment}'";
            RequireSafeSegment(experiment.Experiment, where);
            Require(experiment.Models.Count > 0 || experiment.Diverged.Count > 0, $"{where} has no models");
            Require(Unique(experiment.Models.Select(m => m.Name)), $"{where} has two models with the same name");
            RequireRelative(experiment.Images.LatentSpace, where, "Images.LatentSpace");
            RequireRelative(experiment.Images.BestValidationLoss, where, "Images.BestValidationLoss");
            RequireRelative(experiment.Images.ValidationCurves, where, "Images.ValidationCurves");
            var data = experiment.Data;
            Require(data is not null && data.Height >= 1 && data.Width >= 1
                    && data.Classes.Count >= 2 && data.Classes.Count <= ChartStyle.ClassColors.Count
                    && data.Interpolation.Count == 2 && data.Interpolation.All(c => c >= 0 && c < data.Classes.Count),
                $"{where}: Data must give an image size, 2 to {ChartStyle.ClassColors.Count} classes and the two classes interpolated between");
            foreach (var model in experiment.Models) ValidateModel(model, data!, $"{where}, model '{model.Name}'");
            var names = experiment.Models.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var verdict in experiment.Verdicts)
                Require(names.Contains(verdict.Best) && (verdict.RunnerUp is null || names.Contains(verdict.RunnerUp)),
                    $"{where}: the verdict on {verdict.Metric} names a model the experiment does not have ('{verdict.Best}', '{verdict.RunnerUp}')");
        }
    }

    private static void ValidateModel(ModelResult model, DataSetResult data, string where)
    {
        RequireSafeSegment(model.Name, where);
        Require(model.Epochs.Count > 0, $"{where} has no epochs");
        Require(model.Epochs.Count(e => e.Epoch == model.BestEpoch) == 1,
            $"{where}: best epoch {model.BestEpoch} is not exactly one of its epochs");
        Require(model.Latent >= 1 && model.Hidden.All(h => h >= 1), $"{where}: widths must be at least 1");
        RequireRelative(model.Images.LossCurves, where, "Images.LossCurves");
        RequireRelative(model.Images.Generated, where, "Images.Generated");
        RequireRelative(model.Images.Reconstruction, where, "Images.Reconstruction");
        RequireRelative(model.Images.GeneratedFitted, where, "Images.GeneratedFitted");
        RequireRelative(model.Images.Interpolation, where, "Images.Interpolation");
        RequireRelative(model.Images.Traversal, where, "Images.Traversal");
        RequireRelative(model.Images.KlPerDim, where, "Images.KlPerDim");
        Require(model.Repeats is { Count: > 0 }, $"{where}: Repeats is empty (the first repeat's numbers are the model's)");
        Require(model.KlPerDim.Count == model.Latent, $"{where}: KlPerDim has {model.KlPerDim.Count} values for a latent size of {model.Latent}");
        Require(model.ActiveUnits >= 0 && model.ActiveUnits <= model.Latent,
            $"{where}: ActiveUnits is {model.ActiveUnits}, outside 0–{model.Latent}");

        var samples = model.Samples;
        Require(samples is not null, $"{where} has no Samples");
        Require(model.Input == data.Pixels, $"{where}: Input is {model.Input} values, the data's images have {data.Pixels} ({data.Height} × {data.Width})");
        RequireImages(samples!.Generated, 9, data, where, "Samples.Generated");
        RequireImages(samples.Originals, 9, data, where, "Samples.Originals");
        RequireImages(samples.Reconstructions, 9, data, where, "Samples.Reconstructions");
        var points = samples.LatentX.Count;
        Require(points > 0, $"{where}: Samples.LatentX is empty");
        Require(samples.LatentY.Count == points && samples.LatentLabels.Count == points,
            $"{where}: Samples.LatentX, LatentY and LatentLabels have {points}, {samples.LatentY.Count} and {samples.LatentLabels.Count} entries");
        Require(samples.LatentLabels.All(l => l >= 0 && l < data.Classes.Count), $"{where}: Samples.LatentLabels holds a label outside 0–{data.Classes.Count - 1}");
        RequireImages(samples.GeneratedFitted, 9, data, where, "Samples.GeneratedFitted");
        Require(samples.Interpolation.Count >= 2, $"{where}: Samples.Interpolation must hold at least 2 images, it holds {samples.Interpolation.Count}");
        RequireImages(samples.Interpolation, samples.Interpolation.Count, data, where, "Samples.Interpolation");
        Require(samples.InterpolationLabels.Count == 2 && samples.InterpolationLabels.All(l => l >= 0 && l < data.Classes.Count),
            $"{where}: Samples.InterpolationLabels must be the two classes (0–{data.Classes.Count - 1}) of the interpolated images");
        var dimensions = samples.TraversalDimensions;
        Require(dimensions.Count > 0 && dimensions.All(d => d >= 0 && d < model.Latent) && dimensions.Distinct().Count() == dimensions.Count,
            $"{where}: Samples.TraversalDimensions must be distinct latent dimensions (0–{model.Latent - 1}), was [{string.Join(", ", dimensions)}]");
        Require(samples.Traversal.Count >= 2 * dimensions.Count && samples.Traversal.Count % dimensions.Count == 0,
            $"{where}: Samples.Traversal holds {samples.Traversal.Count} images, not a row of at least 2 for each of {dimensions.Count} dimensions");
        RequireImages(samples.Traversal, samples.Traversal.Count, data, where, "Samples.Traversal");
    }

    private static void RequireImages(IReadOnlyList<float[]> images, int count, DataSetResult data, string where, string field)
    {
        Require(images is not null && images.Count == count, $"{where}: {field} must hold {count} images, it holds {images?.Count ?? 0}");
        for (var i = 0; i < images!.Count; i++)
            Require(images[i] is not null && images[i].Length == data.Pixels,
                $"{where}: {field}[{i}] has {images[i]?.Length ?? 0} values, expected {data.Pixels} ({data.Height} × {data.Width})");
    }

    /// <summary>A name used as a folder: no separators, not "." or "..", no characters a file system rejects.</summary>
    private static void RequireSafeSegment(string name, string where) =>
        Require(!string.IsNullOrWhiteSpace(name) && name != "." && name != ".."
                && name.IndexOfAny(['/', '\\']) < 0 && name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0,
            $"{where}: name '{name}' cannot be a folder name");

    /// <summary>A picture path must stay inside the run folder.</summary>
    private static void RequireRelative(string path, string where, string field) =>
        Require(!string.IsNullOrWhiteSpace(path) && !Path.IsPathRooted(path)
                && !path.Replace('\\', '/').Split('/').Contains(".."),
            $"{where}: {field} '{path}' must be a path relative to the run folder, inside it");

    private static bool Unique(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Distinct(StringComparer.Ordinal).Count() == list.Count;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new ArgumentException(message, "run");
    }
}
