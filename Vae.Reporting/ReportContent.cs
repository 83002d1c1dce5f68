using System.Globalization;

namespace Vae.Reporting;

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
            + string.Join(", ", run.Experiments.Select(e =>
                $"{e.Experiment} ({Plural(e.Models.Count + e.Diverged.Count, "model")}{(e.Diverged.Count > 0 ? $", {e.Diverged.Count} diverged" : "")})")) + ". "
            + (run.Lanes > 1
                ? $"Models trained {run.Lanes} at a time, each on {Plural(run.ThreadsPerModel, "thread")}; a training time is wall-clock time beside whatever trained or was measured at the same time."
                : $"Models trained one at a time, on {Plural(run.ThreadsPerModel, "thread")}.")
            + (JobTimes.Of(run).Describe() is { Length: > 0 } times ? $" Time in jobs, summed over the lanes: {times}." : "")));
        // Under-training is said at the top too: it qualifies every ranking below it.
        var underTrained = run.Experiments.Where(e => Findings.UnderTrained(e).Count > 0).ToList();
        if (underTrained.Count > 0)
            blocks.Add(new Callout(
            [
                new Span("Under-trained models.", Strong: true),
                " " + string.Join(" ", underTrained.Select(e => $"{e.Experiment}: {Findings.UnderTrainingWarning(e)}")),
            ]));
        var summary = StudySummary.Items(run);
        if (summary.Count > 0)
        {
            blocks.Add(new Heading(2, "Summary", "summary"));
            blocks.Add(new BulletList(summary));
            blocks.Add(new Heading(2, "Method", "method"));
        }
        // Pixels and test images are counted when every experiment has the same number of them (one data set).
        var pixels = run.Experiments.Select(e => e.Data.Pixels).Distinct().ToList();
        var testImages = run.Experiments.Select(e => e.Data.TestImages).Distinct().ToList();
        blocks.Add(new Paragraph(
            $"Losses are in nats per image: the reconstruction is the binary cross-entropy summed over {(pixels.Count == 1 ? $"the {Numbers.Count(pixels[0])}" : "an image's")} pixels, the KL term "
            + "(VAEs only) is the KL divergence of the encoder's posterior from N(0, I), and the loss is their sum. Training and "
            + "validation losses are those of each model's best epoch (lowest validation loss); test losses are the best epoch's "
            + $"weights on {(testImages.Count == 1 ? $"the {Numbers.Count(testImages[0])}" : "each data set's")} test images. The generation distance is the Fréchet distance between the test images and 5,000 images "
            + "generated from z ~ N(0, I), on the pixels' first 50 principal components (as FID does on Inception features): lower "
            + "means the generated images match real ones better in both average and spread; faint, blurry or monotonous samples raise it."));
        blocks.Add(new Paragraph(
            "Beyond the losses, each model is measured on the test set for what explains why one beats another: an importance-weighted "
            + "(IWAE) estimate of its negative log-likelihood (VAEs only; tighter than the negative ELBO); its active units, the latent "
            + "dimensions whose posterior mean (an autoencoder's code) varies over the test images with a variance above 0.01, and, for a "
            + "VAE, the KL divergence of each dimension; the quality of its codes as features, the test accuracy of a linear probe "
            + "and of a 5-nearest-neighbour vote fitted on the training images' codes, next to the same two classifiers on a PCA "
            + "projection of the pixels to as many dimensions (a code that does not beat this yardstick has learned little); the linear "
            + "probe is a multinomial logistic regression on standardised features with scikit-learn's default penalty (C = 1: ½‖W‖² "
            + "added to the summed cross-entropy, intercepts unpenalised), fitted to convergence by L-BFGS (every gradient component "
            + "of the mean objective below 10⁻⁶), and the 5-NN vote uses Euclidean distance on the same standardised features; and generation from z ~ N(0, I) and from a Gaussian fitted (full covariance) to the training codes, which is the "
            + "fair way to generate from an autoencoder."));
        blocks.Add(new Paragraph(
            "When an experiment trains each model several times, each repeat with its own seed, tables show the mean ± the sample "
            + "standard deviation over the repeats. A model is declared best on a metric only when Welch's two-sample t-test (unequal "
            + "variances, Welch–Satterthwaite degrees of freedom) of its repeats against the runner-up's rejects equal means at the 5 % "
            + "level; each verdict gives the p-value and the 95 % confidence interval of the lead, and a lead the test does not confirm is "
            + "inconclusive. With one repeat the spread between seeds is unknown and no difference is judged. The validation curves "
            + "show every repeat and their mean; the other pictures and per-epoch curves are of each model's first repeat."));

        foreach (var experiment in run.Experiments)
            blocks.AddRange(Experiment(experiment, NextChartId));
        return blocks;
    }

    /// <summary>A folder's data set in words (Fashion-MNIST, the default, goes without saying).</summary>
    private static string DataSet(DataSetResult data) =>
        $"Data: the IDX files of {data.Folder}, {Numbers.Count(data.TrainImages)} training and {Numbers.Count(data.TestImages)} test images "
        + $"of {data.Height} × {data.Width} pixels in {Plural(data.Classes.Count, "class")}: {string.Join(", ", data.Classes.Select((c, i) => $"{i} {c}"))}. "
        + $"The interpolation walks from the first test {data.Classes[data.Interpolation[0]]} to the first test {data.Classes[data.Interpolation[1]]}.";

    private static IReadOnlyList<Span> Diverged(DivergedModel model) =>
    [
        new Span(model.Name, Strong: true),
        $" ({ModelText.ShortKind(model.Kind)} {ModelText.Widths(model.Input, model.Conv, model.Hidden, model.Latent)}{ModelText.BetaText(model.Beta)}): "
        + string.Join("; ", model.Repeats.Select(r => r.DivergedAtEpoch is { } epoch
            ? $"repeat {r.Repeat + 1} (seed {r.Seed.ToString(CultureInfo.InvariantCulture)}) diverged in epoch {epoch}"
            : $"repeat {r.Repeat + 1} trained {Plural(r.Epochs.Count, "epoch")} without diverging")) + ".",
    ];

    private static IEnumerable<Block> Experiment(ExperimentResult experiment, Func<string> nextChartId)
    {
        var name = experiment.Experiment;
        var anchor = Anchor(name);
        var repeated = Findings.Repeated(experiment);
        yield return new Heading(2, string.IsNullOrWhiteSpace(experiment.Description) ? name : $"{name}: {experiment.Description}", anchor);
        var seeds = Enumerable.Range(0, experiment.Repeats).Select(r => (experiment.Seed + r).ToString(CultureInfo.InvariantCulture)).ToList();
        yield return new Paragraph(
            $"Started {Utc(experiment.StartedUtc)}, seed {experiment.Seed.ToString(CultureInfo.InvariantCulture)}, {Plural(experiment.Models.Count + experiment.Diverged.Count, "model")}"
            + (experiment.Diverged.Count > 0 ? $" ({experiment.Diverged.Count} diverged), " : ", ")
            + (experiment.Repeats > 1 ? $"{experiment.Repeats} repeats (seeds {string.Join(", ", seeds)})." : "1 repeat."));
        if (!experiment.Data.IsFashionMnist) yield return new Paragraph(DataSet(experiment.Data));
        if (experiment.Diverged.Count > 0)
        {
            yield return new Callout(
            [
                new Span(experiment.Models.Count == 0 ? "Every model diverged." : $"{Plural(experiment.Diverged.Count, "model")} diverged.", Strong: true),
                " A model diverges when a training or validation loss becomes NaN or infinite; its training stops at that epoch, it is "
                + "not measured, and it is never named best. Lower the learning rate, or check the data.",
            ]);
            yield return new BulletList(experiment.Diverged.Select(Diverged).ToList());
        }
        if (experiment.Models.Count == 0) yield break;
        var underTrained = Findings.UnderTrainingWarning(experiment);
        if (underTrained is not null)
            yield return new Callout([new Span("Under-trained.", Strong: true), " " + underTrained]);

        yield return new Heading(3, "Results", $"{anchor}-results");
        yield return new Paragraph("Losses in nats per image; training and validation at each model's best epoch, test with the best epoch's weights."
            + (repeated ? $" Each number is the mean ± standard deviation over the {experiment.Repeats} repeats." : ""));
        // Two tables, each narrow enough for a 1,400-pixel page: the training (with its best epoch and time), then
        // validation and test.
        var (training, evaluation) = ResultsTables(experiment);
        yield return training;
        yield return evaluation;

        yield return new Heading(3, "Latent features", $"{anchor}-latent");
        yield return new Paragraph(
            $"IWAE NLL: negative log-likelihood in nats per image, estimated with {Numbers.Count(experiment.IwaeSamples)} importance samples per image "
            + $"on the first {Numbers.Count(experiment.IwaeImages)} test images (VAEs only). Active units: of the latent size. Probe accuracies "
            + "on the test images, each next to its PCA yardstick of as many dimensions. Generation: Fréchet distance to the test images, in the "
            + "pixels' PCA space, of 5,000 images decoded from z ~ N(0, I) and from the Gaussian fitted to the training codes (lower is closer to real)."
            + (repeated ? " Means ± standard deviations over the repeats." : ""));
        yield return LatentTable(experiment);

        yield return new Heading(3, "Verdict", $"{anchor}-verdict");
        if (experiment.Models.Count > 1)
        {
            yield return new Paragraph(
                "For each metric, the best model and the runner-up; a model is declared best only when Welch's t-test rejects equal means "
                + "at the 5 % level (p < 0.05), with the 95 % confidence interval of its lead.");
            yield return new BulletList(VerdictSentences.Sentences(experiment));
            yield return new Paragraph(new Span("In short:", Strong: true));
            yield return new BulletList(VerdictSentences.Summary(experiment));
            yield return new Paragraph(VerdictSentences.Tally(experiment));
            if (underTrained is not null)
                yield return new Paragraph([new Span("Caution:", Strong: true), " " + underTrained]);
        }
        else
            yield return new Paragraph("One model: there is no other to compare it with.");
        yield return new Paragraph(
            "Each learned code against its PCA yardstick (the pixels projected on as many principal components as the code has dimensions):");
        yield return new BulletList(VerdictSentences.AgainstPca(experiment));

        yield return new Heading(3, "Findings", $"{anchor}-findings");
        yield return new BulletList(Findings.BestModel(experiment));
        var lowest = Findings.LowestOnEachMetric(experiment);
        if (lowest.Count > 0)
        {
            yield return new Paragraph("Lowest on each metric" + (repeated ? " (means over the repeats)" : "")
                + ", with the margin over the next model and over the highest:");
            yield return new BulletList(lowest);
        }

        var comparison = Findings.VaeAgainstAutoencoder(experiment);
        if (comparison.Count > 0)
        {
            yield return new Heading(3, "VAE against autoencoder", $"{anchor}-vae-autoencoder");
            yield return new BulletList(comparison);
            yield return new Paragraph("Generated images side by side, first from z ~ N(0, I), then from a Gaussian fitted to each model's own training codes:");
            yield return new PictureRow(experiment.Models
                .Select(m => new Picture(m.Images.Generated, $"{ModelText.NameAndKind(m)}: from z ~ N(0, I)")).ToList());
            yield return new PictureRow(experiment.Models
                .Select(m => new Picture(m.Images.GeneratedFitted, $"{ModelText.NameAndKind(m)}: from the fitted Gaussian")).ToList());
        }

        var usage = Findings.LatentUsage(experiment);
        if (usage.Count > 0)
        {
            yield return new Heading(3, "What the active units explain", $"{anchor}-active-units");
            yield return new BulletList(usage);
        }

        var beta = Findings.BetaTradeOff(experiment);
        if (beta.Count > 0)
        {
            yield return new Heading(3, "β: reconstruction against latent usage", $"{anchor}-beta");
            yield return new BulletList(beta);
        }

        yield return new Heading(3, "Figures", $"{anchor}-figures");
        yield return new PictureRow(
        [
            // The PNG alone: points with 95 % intervals on a fitted axis (there is no interactive copy to show instead).
            new Picture(experiment.Images.BestValidationLoss, $"{name}: best validation loss of each model"),
            new Picture(experiment.Images.ValidationCurves, $"{name}: validation loss per epoch" + (repeated ? " (each repeat, and their mean)" : ""), Interactive: true),
        ]);
        yield return new InteractiveChart(InteractiveCharts.ValidationCurves(experiment, nextChartId()));
        yield return new Picture(experiment.Images.LatentSpace, $"{name}: test codes on their first two principal components, by class", Interactive: true);
        yield return new InteractiveChart(InteractiveCharts.LatentSpace(experiment, nextChartId()));

        yield return new Heading(3, "Models", $"{anchor}-models");
        foreach (var model in experiment.Models)
        {
            yield return new Heading(4, ModelText.Title(model), $"{anchor}-model-{Anchor(model.Name)}");
            yield return new Paragraph(ModelSummary(experiment, model));
            yield return new Picture(model.Images.LossCurves, $"{model.Name}: loss per epoch", Interactive: true);
            yield return new InteractiveChart(InteractiveCharts.LossCurves(model, nextChartId()));
            yield return new PictureRow(
            [
                new Picture(model.Images.Generated, $"{model.Name}: images generated from z ~ N(0, I)"),
                new Picture(model.Images.GeneratedFitted, $"{model.Name}: images generated from a Gaussian fitted to its training codes"),
            ]);
            yield return new Picture(model.Images.Reconstruction, $"{model.Name}: test images and their reconstructions");
            yield return new Picture(model.Images.KlPerDim, model.Kind.HasPosterior()
                ? $"{model.Name}: KL divergence per latent dimension, in dimension order"
                : $"{model.Name}: an autoencoder has no KL term, so no KL per dimension", Interactive: model.Kind.HasPosterior());
            if (model.Kind.HasPosterior())
                yield return new InteractiveChart(InteractiveCharts.KlPerDimension(model, nextChartId()));
            yield return new Picture(model.Images.Interpolation, $"{model.Name}: decoded along the line between two test images' codes");
            yield return new Picture(model.Images.Traversal, $"{model.Name}: the most active units traversed from −3 to +3 standard deviations");
        }
    }

    /// <summary>The results table split in two: model, architecture, parameters, best epoch, the training losses and
    /// the training time; then model, the validation and test losses (and the β-weighted test loss when a model has β ≠ 1).</summary>
    private static (Table Training, Table Evaluation) ResultsTables(ExperimentResult experiment)
    {
        var whole = ResultsTable(experiment);
        var last = whole.Columns.Count - 1;
        int[] training = [0, 1, 2, 3, 4, 5, 6, last];
        var evaluation = new[] { 0 }.Concat(Enumerable.Range(7, last - 7)).ToArray();
        Table Project(int[] columns) => new(
            columns.Select(c => whole.Columns[c]).ToList(),
            whole.Rows.Select(r => (IReadOnlyList<Span>)columns.Select(c => r[c]).ToList()).ToList());
        return (Project(training), Project(evaluation));
    }

    private static Table ResultsTable(ExperimentResult experiment)
    {
        var repeated = Findings.Repeated(experiment);
        Column[] columns =
        [
            new("model", false), new("architecture", false), new("parameters", true), new(repeated ? "best epoch of each repeat" : "best epoch", true),
            new("training reconstruction", true), new("training KL", true), new("training loss", true),
            new("validation reconstruction", true), new("validation KL", true), new("validation loss", true),
            new("test reconstruction", true), new("test KL", true), new("test loss", true),
            new("training time", true),
        ];
        // β ≠ 1: the objective those models minimised beside the negative ELBO ("test loss", comparable across β).
        var weighted = experiment.Models.Any(m => m.Beta != 1.0);
        if (weighted) columns = [.. columns[..^1], new("test recon + β·KL", true), columns[^1]];
        var rows = experiment.Models.Select(m =>
        {
            var vae = m.Kind.HasPosterior();
            string Nats(Func<RepeatResult, double> value) => Numbers.MeanSd(RepeatSummaries.Of(m, value), Numbers.Nats);
            string Summarised(Core.Metrics.Metric metric) => Numbers.MeanSd(RepeatSummaries.Of(m, metric), Numbers.Nats);
            IReadOnlyList<Span> row =
            [
                new Span(m.Name + (m.ReusedFrom is null ? "" : $" (trained in {m.ReusedFrom})"), Strong: true),
                ModelText.Architecture(m),
                Numbers.Count(m.Parameters),
                RepeatSummaries.Repeated(m) ? string.Join(", ", m.Repeats.Select(r => r.BestEpoch)) : $"{m.BestEpoch} of {m.Epochs.Count}",
                Nats(r => r.Best.TrainRecon), vae ? Nats(r => r.Best.TrainKl) : "—", Nats(r => r.Best.TrainLoss),
                Nats(r => r.Best.ValRecon), vae ? Nats(r => r.Best.ValKl) : "—", Summarised(Core.Metrics.validationLoss),
                Summarised(Core.Metrics.testReconstruction), vae ? Summarised(Core.Metrics.testKl) : "—", Summarised(Core.Metrics.testLoss),
                Numbers.Durations(RepeatSummaries.Of(m, Core.Metrics.trainingSeconds)),
            ];
            if (weighted)
                row = [.. row.Take(row.Count - 1), m.Summary.ContainsKey(Core.Metrics.testObjective.Key) ? Summarised(Core.Metrics.testObjective) : "—", row[^1]];
            return row;
        }).ToList();
        return new Table(columns, rows);
    }

    private static Table LatentTable(ExperimentResult experiment)
    {
        Column[] columns =
        [
            new("model", false), new("IWAE NLL", true), new("active units", true),
            new("linear probe", true), new("linear probe on PCA", true), new("5-NN", true), new("5-NN on PCA", true),
            new("generation from N(0, I)", true), new("generation from the fitted Gaussian", true),
        ];
        var rows = experiment.Models.Select(m =>
        {
            var repeated = RepeatSummaries.Repeated(m);
            var iwae = m.Repeats.All(r => r.Test.IwaeNll.HasValue)
                ? Numbers.MeanSd(RepeatSummaries.Of(m, Core.Metrics.iwaeNll), Numbers.Nats)
                : "—";
            var active = Numbers.MeanSd(RepeatSummaries.Of(m, Core.Metrics.activeUnits), v => repeated ? Numbers.Fixed(v, 1) : Numbers.General(v));
            IReadOnlyList<Span> row =
            [
                new Span(m.Name, Strong: true),
                iwae,
                $"{active} of {m.Latent}",
                Numbers.Accuracy(RepeatSummaries.Of(m, Core.Metrics.linearAccuracy)),
                Yardstick(m, r => r.Probe.PcaLinearAccuracy),
                Numbers.Accuracy(RepeatSummaries.Of(m, Core.Metrics.knnAccuracy)),
                Yardstick(m, r => r.Probe.PcaKnnAccuracy),
                Numbers.MeanSd(RepeatSummaries.Of(m, Core.Metrics.generationDistance), Numbers.General),
                Numbers.MeanSd(RepeatSummaries.Of(m, Core.Metrics.fittedGenerationDistance), Numbers.General),
            ];
            return row;
        }).ToList();
        return new Table(columns, rows);
    }

    /// <summary>A PCA accuracy: one value when the repeats agree (the yardstick does not depend on the seed).</summary>
    private static string Yardstick(ModelResult model, Func<RepeatResult, double> value) =>
        RepeatSummaries.Constant(model, value)
            ? Numbers.Accuracy(value(model.Repeats[0]))
            : Numbers.Accuracy(RepeatSummaries.Of(model, value));

    private static IReadOnlyList<Span> ModelSummary(ExperimentResult experiment, ModelResult model)
    {
        var vae = model.Kind.HasPosterior();
        var best = model.Best;
        var last = model.Epochs.Max(e => e.Epoch);
        var first = model.Repeats[0];
        var spans = new List<Span>();
        if (RepeatSummaries.Repeated(model))
            spans.Add($"Repeat 1 of {model.Repeats.Count} (seed {first.Seed.ToString(CultureInfo.InvariantCulture)}), the one the pictures show; the tables give the means over the repeats. ");
        spans.Add($"Trained {Plural(model.Epochs.Count, "epoch")} in {Numbers.Duration(model.TrainingSeconds)}"
            + (model.ReusedFrom is null ? "" : $" (in {model.ReusedFrom}, reused here)") + ". ");
        spans.Add($"Best epoch {model.BestEpoch}: validation loss {Numbers.Nats(best.ValLoss)}"
            + (vae ? $" (reconstruction {Numbers.Nats(best.ValRecon)} + KL {Numbers.Nats(best.ValKl)}). " : " (reconstruction only). "));
        if (model.Epochs.Count > 1)
            spans.Add(model.BestEpoch == last
                ? "The best epoch is the last one trained: the validation loss fell in the final epoch. "
                : $"The {Plural(last - model.BestEpoch, "epoch")} after it did not lower the validation loss. ");
        spans.Add(vae
            ? $"Test loss {Numbers.Nats(model.Test.Loss)} (reconstruction {Numbers.Nats(model.Test.Recon)} + KL {Numbers.Nats(model.Test.Kl)}). "
            : $"Test reconstruction {Numbers.Nats(model.Test.Recon)}. ");
        if (model.Test.IwaeNll is { } iwae)
            spans.Add($"IWAE estimate of the negative log-likelihood {Numbers.Nats(iwae)} ({Numbers.Count(experiment.IwaeSamples)} samples per image, "
                + $"first {Numbers.Count(experiment.IwaeImages)} test images"
                + (model.Test.IwaeNllStandardError is { } se
                    ? $"; standard error {Numbers.Nats(se)} over those images, which every model is scored on, so differences between models vary less"
                    : "")
                + "). ");
        spans.Add($"{model.ActiveUnits} of {model.Latent} latent units active. ");
        spans.Add($"Linear probe {Numbers.Accuracy(model.Probe.LinearAccuracy)} (PCA {Numbers.Accuracy(model.Probe.PcaLinearAccuracy)}), "
            + $"5-NN {Numbers.Accuracy(model.Probe.KnnAccuracy)} (PCA {Numbers.Accuracy(model.Probe.PcaKnnAccuracy)}). ");
        spans.Add($"Generation distance {Numbers.General(model.GenerationDistance)} from N(0, I), {Numbers.General(model.FittedGenerationDistance)} "
            + $"from the fitted Gaussian; {Numbers.Count(model.Parameters)} parameters. Checkpoint: ");
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

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}{(noun.EndsWith('s') ? "es" : "s")}";
}
