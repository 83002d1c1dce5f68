using System.CommandLine;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>reconstruct &lt;checkpoint&gt; --out FILE.png</c>: Fashion-MNIST test images above a trained model's reconstructions of them.</summary>
internal static class ReconstructCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A model a run saved: <run>/<experiment>/<model>/model.safetensors (or model-r2.safetensors, … for later repeats)." };
        var output = new Option<string>("--out") { Description = "The PNG file to write (its folder is created if missing).", Required = true };
        var count = new Option<int>("--count") { Description = $"Test images, 1 to {ModelPictures.MaxReconstructions}, ten to a row (default 9, as the report's reconstruction.png).", DefaultValueFactory = _ => 9 };
        var data = new Option<string?>("--data") { Description = "Folder holding the four Fashion-MNIST files (default: $FASHION_MNIST_DIR, the repository's data/fashion-mnist, /usr/share/datasets/fashion-mnist)." };
        var command = new Command("reconstruct", "Pass Fashion-MNIST test images (the first of each class, then the second of each, …, as the report shows them) through a trained model and draw them above their reconstructions, as the report's reconstruction.png.")
        {
            checkpoint, output, count, data,
        };
        command.SetAction(parsed =>
        {
            var n = parsed.GetValue(count);
            var picture = ModelPictures.WriteReconstructions(parsed.GetValue(checkpoint)!, parsed.GetValue(output)!, n, parsed.GetValue(data));
            Console.WriteLine($"wrote {picture.Path}: {n} test image{(n == 1 ? "" : "s")} above {(n == 1 ? "its reconstruction" : "their reconstructions")} by {picture.Model} ({picture.Width} × {picture.Height} pixels)");
            return ExitCodes.Success;
        });
        return command;
    }
}
