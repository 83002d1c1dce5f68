using System.Globalization;

namespace Vae.Facade.Reporting;

/// <summary>The report's content as blocks, computed from the run's numbers; <see cref="MarkdownRenderer"/> and
/// <see cref="HtmlRenderer"/> draw it.</summary>
internal static class ReportContent
{
    /// <summary>Every block of the report of <paramref name="run"/>, interactive charts included.</summary>
    public static IReadOnlyList<Block> Build(RunResult run)
    {
        var chartIds = 0;
        string NextChartId() => $"chart-{++chartIds}";

        var blocks = new List<Block> { new Heading(1, $"VAE study: {run.Run}", "top") };
        if (run.Quick)
            blocks.Add(new Callout(
            [
                new Span("Quick smoke run.", Strong: true),
                " These numbers come from a quick run on a small subset of the data, made to check that training and reporting work end to end; they are not the study's results.",
            ]));
        blocks.Add(new Paragraph(
            $"Run started {Utc(run.StartedUtc)}. {Plural(run.Experiments.Count, "experiment")}: "
            + string.Join(", ", run.Experiments.Select(e => $"{e.Experiment} ({Plural(e.Models.Count, "model")})")) + "."));
        blocks.Add(new Paragraph(
            "Losses are in nats per image: the reconstruction is the binary cross-entropy summed over the 784 pixels, the KL term "
            + "(VAEs only) is the KL divergence of the encoder's posterior from N(0, I), and the loss is their sum. Training and "
            + "validation losses are those of each model's best epoch (lowest validation loss); test losses are the best epoch's "
            + "weights on the 10,000 test images. The generation distance is the mean squared pixel distance from each of 1,000 "
            + "images generated from z ~ N(0, I) to its nearest test image: lower means generated images look more like real ones."));

        foreach (var experiment in run.Experiments)
            blocks.AddRange(Experiment(experiment, NextChartId));
        return blocks;
    }

    private static IEnumerable<Block> Experiment(ExperimentResult experiment, Func<string> nextChartId)
    {
        var name = experiment.Experiment;
        var anchor = Anchor(name);
        yield return new Heading(2, string.IsNullOrWhiteSpace(experiment.Description) ? name : $"{name}: {experiment.Description}", anchor);
        yield return new Paragraph($"Started {Utc(experiment.StartedUtc)}, seed {experiment.Seed.ToString(CultureInfo.InvariantCulture)}, {Plural(experiment.Models.Count, "model")}.");

        yield return new Heading(3, "Results", $"{anchor}-results");
        yield return new Paragraph("Losses in nats per image; training and validation at each model's best epoch, test with the best epoch's weights.");
        yield return ResultsTable(experiment);

        yield return new Heading(3, "Findings", $"{anchor}-findings");
        yield return new BulletList(Findings.BestModel(experiment));
        var lowest = Findings.LowestOnEachMetric(experiment);
        if (lowest.Count > 0)
        {
            yield return new Paragraph("Lowest on each metric, with the margin over the next model and over the highest:");
            yield return new BulletList(lowest);
        }

        var comparison = Findings.VaeAgainstAutoencoder(experiment);
        if (comparison.Count > 0)
        {
            yield return new Heading(3, "VAE against autoencoder", $"{anchor}-vae-autoencoder");
            yield return new BulletList(comparison);
        }

        yield return new Heading(3, "Figures", $"{anchor}-figures");
        yield return new PictureRow(
        [
            new Picture(experiment.Images.BestValidationLoss, $"{name}: best validation loss of each model"),
            new Picture(experiment.Images.ValidationCurves, $"{name}: validation loss per epoch"),
        ]);
        yield return new InteractiveChart(InteractiveCharts.BestValidationLoss(experiment, nextChartId()));
        yield return new InteractiveChart(InteractiveCharts.ValidationCurves(experiment, nextChartId()));
        yield return new Picture(experiment.Images.LatentSpace, $"{name}: test codes on their first two principal components, by class");
        yield return new InteractiveChart(InteractiveCharts.LatentSpace(experiment, nextChartId()));

        yield return new Heading(3, "Models", $"{anchor}-models");
        foreach (var model in experiment.Models)
        {
            yield return new Heading(4, ModelText.Title(model), $"{anchor}-model-{Anchor(model.Name)}");
            yield return new Paragraph(ModelSummary(model));
            yield return new Picture(model.Images.LossCurves, $"{model.Name}: loss per epoch");
            yield return new InteractiveChart(InteractiveCharts.LossCurves(model, nextChartId()));
            yield return new PictureRow(
            [
                new Picture(model.Images.Generated, $"{model.Name}: images generated from z ~ N(0, I)"),
                new Picture(model.Images.GeneratedFitted, $"{model.Name}: images generated from a Gaussian fitted to its training codes"),
            ]);
            yield return new Picture(model.Images.Reconstruction, $"{model.Name}: test images and their reconstructions");
            yield return new Picture(model.Images.KlPerDim, model.Kind == ModelKind.Vae
                ? $"{model.Name}: KL divergence per latent dimension, in dimension order"
                : $"{model.Name}: an autoencoder has no KL term, so no KL per dimension");
            yield return new Picture(model.Images.Interpolation, $"{model.Name}: decoded along the line between two test images' codes");
            yield return new Picture(model.Images.Traversal, $"{model.Name}: the most active units traversed from −3 to +3 standard deviations");
        }
    }

    private static Table ResultsTable(ExperimentResult experiment)
    {
        Column[] columns =
        [
            new("model", false), new("architecture", false), new("parameters", true), new("best epoch", true),
            new("training reconstruction", true), new("training KL", true), new("training loss", true),
            new("validation reconstruction", true), new("validation KL", true), new("validation loss", true),
            new("test reconstruction", true), new("test KL", true), new("test loss", true),
            new("generation distance", true), new("training time", true),
        ];
        var rows = experiment.Models.Select(m =>
        {
            var vae = m.Kind == ModelKind.Vae;
            var best = m.Best;
            IReadOnlyList<Span> row =
            [
                new Span(m.Name + (m.ReusedFrom is null ? "" : $" (trained in {m.ReusedFrom})"), Strong: true),
                ModelText.Architecture(m),
                Numbers.Count(m.Parameters),
                $"{m.BestEpoch} of {m.Epochs.Count}",
                Numbers.Nats(best.TrainRecon), vae ? Numbers.Nats(best.TrainKl) : "—", Numbers.Nats(best.TrainLoss),
                Numbers.Nats(best.ValRecon), vae ? Numbers.Nats(best.ValKl) : "—", Numbers.Nats(best.ValLoss),
                Numbers.Nats(m.Test.Recon), vae ? Numbers.Nats(m.Test.Kl) : "—", Numbers.Nats(m.Test.Loss),
                Numbers.General(m.GenerationDistance),
                Numbers.Duration(m.TrainingSeconds),
            ];
            return row;
        }).ToList();
        return new Table(columns, rows);
    }

    private static IReadOnlyList<Span> ModelSummary(ModelResult model)
    {
        var vae = model.Kind == ModelKind.Vae;
        var best = model.Best;
        var last = model.Epochs.Max(e => e.Epoch);
        var spans = new List<Span>
        {
            $"Trained {Plural(model.Epochs.Count, "epoch")} in {Numbers.Duration(model.TrainingSeconds)}"
            + (model.ReusedFrom is null ? "" : $" (in {model.ReusedFrom}, reused here)") + ". ",
            $"Best epoch {model.BestEpoch}: validation loss {Numbers.Nats(best.ValLoss)}"
            + (vae ? $" (reconstruction {Numbers.Nats(best.ValRecon)} + KL {Numbers.Nats(best.ValKl)}). " : " (reconstruction only). "),
        };
        if (model.Epochs.Count > 1)
            spans.Add(model.BestEpoch == last
                ? "The best epoch is the last one trained: the validation loss fell in the final epoch. "
                : $"The {Plural(last - model.BestEpoch, "epoch")} after it did not lower the validation loss. ");
        spans.Add(vae
            ? $"Test loss {Numbers.Nats(model.Test.Loss)} (reconstruction {Numbers.Nats(model.Test.Recon)} + KL {Numbers.Nats(model.Test.Kl)}). "
            : $"Test reconstruction {Numbers.Nats(model.Test.Recon)}. ");
        spans.Add($"Generation distance {Numbers.General(model.GenerationDistance)}; {Numbers.Count(model.Parameters)} parameters. Checkpoint: ");
        spans.Add(new Span(model.Checkpoint, Code: true));
        spans.Add(".");
        return spans;
    }

    /// <summary>An HTML id made of lower-case letters, digits and hyphens.</summary>
    internal static string Anchor(string text)
    {
        var chars = text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var anchor = string.Join("-", new string(chars).Split('-', StringSplitOptions.RemoveEmptyEntries));
        return anchor.Length > 0 ? anchor : "section";
    }

    /// <summary>The records' times are UTC by name; one of unspecified kind is taken as UTC, not as local time.</summary>
    private static string Utc(DateTime time) =>
        (time.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : time.ToUniversalTime())
        .ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}
