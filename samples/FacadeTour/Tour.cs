using Vae.Facade;
using Vae.Reporting;

namespace FacadeTour;

/// <summary>What the tour measured.</summary>
/// <param name="Epochs">Epochs trained.</param>
/// <param name="ValidationLossBefore">Validation loss per image of the untrained model.</param>
/// <param name="ValidationLossAfter">Validation loss per image after training.</param>
/// <param name="Test">Test-set losses after training.</param>
/// <param name="Checkpoint">Where the model was saved.</param>
public sealed record TourSummary(int Epochs, double ValidationLossBefore, double ValidationLossAfter, LossBreakdown Test, string Checkpoint);

/// <summary>Everything a C# program does with the library, through the façade only; every step checks
/// its result and throws <see cref="InvalidOperationException"/> when it is wrong.</summary>
public static class Tour
{
    /// <summary>Runs the tour, writing a checkpoint into <paramref name="folder"/> and a line per step to <paramref name="log"/>.</summary>
    public static async Task<TourSummary> RunAsync(string folder, TextWriter log, CancellationToken cancellationToken = default)
    {
        var data = FashionMnistData.Load();
        log.WriteLine($"data: {data.TrainCount} training and {data.TestCount} test images; classes {string.Join(", ", FashionMnistData.ClassNames)}");

        var spec = new ModelSpec(ModelKind.Vae, [128], 8);
        var model = VaeModel.Create(spec, seed: 3);
        log.WriteLine($"model: {spec.Describe()}, {model.ParameterCount:N0} parameters");

        var epochs = new List<EpochReport>();
        var report = await model.TrainAsync(
            data,
            new TrainingSettings(MaxEpochs: 2, Patience: null),
            progress: new Progress(epochs.Add),
            cancellationToken: cancellationToken);
        Check(report.Epochs.Count == 2 && epochs.Count == 2, $"two epochs trained and reported, got {report.Epochs.Count} and {epochs.Count}");
        Check(report.Epochs[1].ValLoss < report.Epochs[0].ValLoss, "the validation loss falls");
        log.WriteLine($"trained: validation loss {report.Epochs[0].ValLoss:F1} → {report.Epochs[1].ValLoss:F1}");

        var test = model.Evaluate(data);
        Check(Math.Abs(test.Loss - (test.Recon + test.Kl)) < 1e-6 && test.Kl > 0, "test loss = reconstruction + KL, KL > 0");

        var images = data.TestImages(0, 9);
        var codes = model.Encode(images);
        Check(codes.Count == 9 && codes.All(c => c.Length == 8), "nine codes of eight values");
        var reconstructions = model.Reconstruct(images);
        Check(reconstructions.All(r => r.Length == 784 && r.All(v => v is >= 0 and <= 1)), "reconstructions are images");
        Check(Distance(reconstructions[0], images[0]) < Distance(reconstructions[0], images[1]), "a reconstruction is nearer its own original than another image");
        var generated = model.Generate(4, seed: 1);
        Check(generated.Count == 4 && generated.All(g => g.Length == 784), "four generated images");
        Check(Same(model.Generate(4, seed: 1), generated), "the same seed generates the same images");
        // Equal up to float rounding: the codes arrive contiguous, μ inside the model is a strided view.
        Check(Near(model.Decode(codes), reconstructions), "decoding the codes gives the reconstructions");

        var checkpoint = Path.Combine(folder, "tour.safetensors");
        model.Save(checkpoint);
        var loaded = VaeModel.Load(checkpoint);
        Check(loaded.Spec.Describe() == spec.Describe(), "the checkpoint keeps the architecture");
        Check(Same(loaded.Reconstruct(images), reconstructions), "the reloaded model gives identical outputs");
        log.WriteLine($"saved and reloaded {checkpoint}");

        try
        {
            VaeModel.Create(new ModelSpec(ModelKind.Autoencoder, [0], 8));
            Check(false, "an invalid spec is refused");
        }
        catch (Vae.Core.InvalidInputException e)
        {
            Check(e.Message == "model: hidden[0]: must be at least 1, was 0", $"the refusal names the rule, got: {e.Message}");
        }

        return new TourSummary(report.Epochs.Count, report.Epochs[0].ValLoss, report.Epochs[1].ValLoss, test, checkpoint);
    }

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new InvalidOperationException($"façade tour: expected {what}");
    }

    private static double Distance(float[] a, float[] b) => a.Zip(b, (x, y) => (x - y) * (x - y)).Sum();

    private static bool Same(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    private static bool Near(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Zip(p.Second).All(v => Math.Abs(v.First - v.Second) < 1e-5));

    private sealed class Progress(Action<EpochReport> report) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => report(value);
    }
}
