using System.Text.RegularExpressions;
using Plotly.NET;
using Plotly.NET.LayoutObjects;
using Chart = Plotly.NET.CSharp.Chart;
using Plotly.NET.CSharp;
using GenericChartExtensions = Plotly.NET.CSharp.GenericChartExtensions;

namespace Vae.Reporting;

/// <summary>The interactive charts of the HTML page, made with Plotly.NET; each becomes a div and a script that
/// call the plotly.js inlined once in the page.</summary>
internal static partial class InteractiveCharts
{
    /// <summary>Points drawn per model in the interactive latent space: every k-th test image, enough to see the
    /// clusters while keeping the page light.</summary>
    public const int LatentPoints = 2000;

    /// <summary>Every model's validation loss per epoch: each repeat a thin line with its best epoch circled and their
    /// mean a thick line (the one line, with markers, of a single repeat).</summary>
    public static string ValidationCurves(ExperimentResult experiment, string id)
    {
        var mixed = Findings.MixesKinds(experiment);
        var traces = new List<GenericChart>();
        for (var i = 0; i < experiment.Models.Count; i++)
        {
            var model = experiment.Models[i];
            var color = ModelColor(i);
            var name = mixed ? $"{model.Name} ({ModelText.Kind(model.Kind)})" : model.Name;
            var histories = ValidationCurvesPng.Histories(model);
            var several = histories.Count > 1;
            for (var r = 0; r < histories.Count; r++)
            {
                var epochs = histories[r];
                var label = several ? $"{name}, repeat {r + 1}" : name;
                traces.Add(Chart.Line<int, double, string>(
                        epochs.Select(e => e.Epoch), epochs.Select(e => e.ValLoss), ShowMarkers: !several, Name: label,
                        ShowLegend: !several, LineColor: color, MarkerColor: color, LineWidth: several ? 1.0 : 2.0,
                        Opacity: several ? 0.5 : 1.0)
                    .WithTraceInfo(LegendGroup: name));
                var best = epochs.Where(e => double.IsFinite(e.ValLoss)).MinBy(e => e.ValLoss);
                if (best is not null)
                    traces.Add(Chart.Point<int, double, string>(
                            [best.Epoch], [best.ValLoss], Name: $"{label}: best epoch {best.Epoch}", ShowLegend: false,
                            Marker: Marker(color, several ? 12 : 16, "circle-open"))
                        .WithTraceInfo(LegendGroup: name));
            }
            if (several)
            {
                var (xs, mean) = ValidationCurvesPng.MeanCurve(histories);
                traces.Add(Chart.Line<double, double, string>(xs, mean, Name: $"{name} (mean of {histories.Count})",
                        LineColor: color, LineWidth: 3.0)
                    .WithTraceInfo(LegendGroup: name));
            }
        }
        var chart = Chart.Combine(traces);
        chart = GenericChartExtensions.WithXAxisStyle<int, int, string>(chart, TitleText: "epoch");
        chart = GenericChartExtensions.WithYAxisStyle<double, double, string>(chart, TitleText: ChartStyle.LossUnit);
        chart = WholeEpochTicks(chart, experiment.Models.Max(m => ValidationCurvesPng.Histories(m).Max(h => h.Count)));
        return Fragment(chart, id, ValidationCurvesPng.Title(experiment), 1100, 520, KindsNote(mixed));
    }

    /// <summary>A model's KL divergence per latent dimension on the test set (first repeat), one bar per dimension
    /// in dimension order, the traversed dimensions in red. VAEs only: an autoencoder has no KL term.</summary>
    public static string KlPerDimension(ModelResult model, string id)
    {
        var dimensions = Enumerable.Range(0, model.KlPerDim.Count).ToList();
        var traversed = model.Samples.TraversalDimensions.ToHashSet();
        var chart = Chart.Column<double, int, string>(
            model.KlPerDim,
            Keys: dimensions,
            MultiText: dimensions.Select(d => $"z[{d}]: {Numbers.General(model.KlPerDim[d])} nats" + (traversed.Contains(d) ? " (traversed)" : "")).ToArray(),
            MarkerColor: Color.fromColors(dimensions.Select(d => Color.fromHex(traversed.Contains(d) ? "#d62728" : "#7f9fbf"))),
            TextPosition: StyleParam.TextPosition.None,
            Name: "KL divergence");
        chart = GenericChartExtensions.WithXAxisStyle<int, int, string>(chart, TitleText: "latent dimension i of z[i]");
        chart = GenericChartExtensions.WithYAxisStyle<double, double, string>(chart, TitleText: ChartStyle.LossUnit);
        return Fragment(chart, id, $"{ModelText.Title(model)}: KL divergence per latent dimension (test set)", 1100, 420,
            KlPerDimensionPng.Subtitle(model));
    }

    /// <summary>Each model's test codes on their first two principal components, coloured by class, one panel per
    /// model; <see cref="LatentPoints"/> points per model.</summary>
    public static string LatentSpace(ExperimentResult experiment, string id)
    {
        var count = experiment.Models.Count;
        var columns = Math.Min(count, 3);
        var rows = (count + columns - 1) / columns;
        var panels = experiment.Models.Select((model, m) =>
        {
            var samples = model.Samples;
            var step = Math.Max(1, (samples.LatentX.Count + LatentPoints - 1) / LatentPoints);
            var chosen = Enumerable.Range(0, samples.LatentX.Count).Where(i => i % step == 0).ToList();
            var classes = Enumerable.Range(0, experiment.Data.Classes.Count).Select(c =>
            {
                var points = chosen.Where(i => samples.LatentLabels[i] == c).ToList();
                return Chart.Point<float, float, string>(
                        points.Select(i => samples.LatentX[i]), points.Select(i => samples.LatentY[i]),
                        Name: experiment.Data.ClassLabel(c), ShowLegend: m == 0, Opacity: 0.7,
                        Marker: Marker(Color.fromHex(ChartStyle.ClassColors[c].ToHex()), 4, "circle"))
                    .WithTraceInfo(LegendGroup: $"class {c}");
            });
            return Chart.Combine(classes);
        }).ToList();
        var chart = Chart.Grid(panels, rows, columns,
            SubPlotTitles: experiment.Models.Select(m => $"{m.Name} ({ModelText.Architecture(m)})").ToArray(),
            XGap: 0.12, YGap: 0.18);
        for (var i = 1; i <= count; i++)
        {
            chart = GenericChartExtensions.WithXAxisStyle<double, double, string>(chart, TitleText: "PC 1", Id: StyleParam.SubPlotId.NewXAxis(i));
            chart = GenericChartExtensions.WithYAxisStyle<double, double, string>(chart, TitleText: "PC 2", Id: StyleParam.SubPlotId.NewYAxis(i));
        }
        var step = Step(experiment);
        var shown = step == 1 ? "every test image" : $"one test image in {step}";
        return Fragment(chart, id, $"{experiment.Experiment}: test codes on their first two principal components ({shown}; each panel on its own scale)",
            1100, 60 + 420 * rows);
    }

    /// <summary>A model's reconstruction and KL per epoch, training and validation, the best epoch marked.</summary>
    public static string LossCurves(ModelResult model, string id)
    {
        var epochs = model.Epochs.OrderBy(e => e.Epoch).ToList();
        var x = epochs.Select(e => e.Epoch).ToArray();
        var reconstruction = Panel(x, epochs.Select(e => e.TrainRecon), epochs.Select(e => e.ValRecon), model.BestEpoch, true);
        var vae = model.Kind.HasPosterior();
        var chart = vae
            ? Chart.Grid([reconstruction, Panel(x, epochs.Select(e => e.TrainKl), epochs.Select(e => e.ValKl), model.BestEpoch, false)], 2, 1,
                SubPlotTitles: new[] { "reconstruction (binary cross-entropy)", "KL divergence" }, YGap: 0.25)
            : reconstruction;
        for (var i = 1; i <= (vae ? 2 : 1); i++)
        {
            chart = GenericChartExtensions.WithXAxisStyle<int, int, string>(chart, TitleText: "epoch", Id: StyleParam.SubPlotId.NewXAxis(i));
            chart = GenericChartExtensions.WithYAxisStyle<double, double, string>(chart, TitleText: ChartStyle.LossUnit, Id: StyleParam.SubPlotId.NewYAxis(i));
        }
        chart = WholeEpochTicks(chart, model.Epochs.Count);
        var title = vae ? ModelText.Title(model) : $"{ModelText.Title(model)}: reconstruction (an autoencoder has no KL term)";
        return Fragment(chart, id, title, 1100, vae ? 640 : 400);
    }

    /// <summary>Ticks on whole epochs (plotly.js would otherwise label 1.5, 2.5), about ten of them at most.</summary>
    private static GenericChart WholeEpochTicks(GenericChart chart, int epochs)
    {
        var layout = GenericChart.getLayout(chart);
        foreach (var name in layout.GetPropertyNames(true).Where(n => n.StartsWith("xaxis", StringComparison.Ordinal)).ToList())
            if (layout.GetPropertyValue(name) is DynamicObj.DynamicObj axis)
                axis.SetProperty("dtick", Math.Max(1, (epochs + 9) / 10));
        return GenericChart.setLayout(layout, chart);
    }

    private static int Step(ExperimentResult experiment) =>
        experiment.Models.Max(m => Math.Max(1, (m.Samples.LatentX.Count + LatentPoints - 1) / LatentPoints));

    private static GenericChart Panel(int[] epochs, IEnumerable<double> training, IEnumerable<double> validation, int bestEpoch, bool legend)
    {
        var train = training.ToArray();
        var valid = validation.ToArray();
        var finite = train.Concat(valid).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        var (low, high) = (finite.Min(), finite.Max());
        return Chart.Combine(
        [
            Chart.Line<int, double, string>(epochs, train, ShowMarkers: true, Name: "training", ShowLegend: legend,
                LineColor: Color.fromHex("#1f77b4"), MarkerColor: Color.fromHex("#1f77b4")).WithTraceInfo(LegendGroup: "training"),
            Chart.Line<int, double, string>(epochs, valid, ShowMarkers: true, Name: "validation", ShowLegend: legend,
                LineColor: Color.fromHex("#ff7f0e"), MarkerColor: Color.fromHex("#ff7f0e")).WithTraceInfo(LegendGroup: "validation"),
            Chart.Line<int, double, string>([bestEpoch, bestEpoch], [low, high], Name: $"best epoch ({bestEpoch})", ShowLegend: legend,
                LineColor: Color.fromHex("#555555"), LineDash: StyleParam.DrawingStyle.Dash).WithTraceInfo(LegendGroup: "best"),
        ]);
    }

    /// <summary>A marker of one colour, size (px) and plotly.js symbol name ("circle", "circle-open").</summary>
    private static Plotly.NET.TraceObjects.Marker Marker(Color color, int size, string symbol)
    {
        var marker = new Plotly.NET.TraceObjects.Marker();
        marker.SetProperty("color", color);
        marker.SetProperty("size", size);
        marker.SetProperty("symbol", symbol);
        return marker;
    }

    /// <summary>What the loss is of each kind, when the chart holds both.</summary>
    private static string? KindsNote(bool mixed) => mixed ? "VAE: reconstruction + KL; autoencoder: reconstruction only" : null;

    private static Color ModelColor(int index) => Color.fromHex(ChartStyle.ModelColor(index).ToHex());

    /// <summary>The chart's div and script, with a title (and a smaller second line), a size, and
    /// <paramref name="id"/> in place of the random id Plotly.NET gives each chart, so that the same results give the
    /// same page.</summary>
    private static string Fragment(GenericChart chart, string id, string title, int width, int height, string? subtitle = null)
    {
        chart = GenericChartExtensions.WithSize(chart, width, height);
        var layout = GenericChart.getLayout(chart);
        layout.SetProperty("title", new Dictionary<string, object> { ["text"] = Html.Encode(title) + (subtitle is null ? "" : $"<br><sub>{Html.Encode(subtitle)}</sub>") });
        layout.SetProperty("font", new Dictionary<string, object> { ["family"] = "DejaVu Sans, Verdana, sans-serif" });
        // Legend symbols at a readable size even when the points are drawn small (the latent space).
        layout.SetProperty("legend", new Dictionary<string, object> { ["itemsizing"] = "constant" });
        chart = GenericChart.setLayout(layout, chart);

        var html = GenericChart.toChartHTML(chart);
        var guid = ChartId().Match(html);
        if (!guid.Success) throw new InvalidOperationException("Plotly.NET's chart HTML has no div id");
        html = html.Replace(guid.Value, id, StringComparison.Ordinal)
                   .Replace(guid.Value.Replace("-", ""), id.Replace("-", "_"), StringComparison.Ordinal);
        const string open = "<script type=\"text/javascript\">";
        var start = html.IndexOf(open, StringComparison.Ordinal) + open.Length;
        var end = html.LastIndexOf("</script>", StringComparison.Ordinal);
        if (start < open.Length || end < start) throw new InvalidOperationException("Plotly.NET's chart HTML has no script");
        return html[..start] + Html.ScriptSafe(html[start..end]) + html[end..];
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex ChartId();
}
