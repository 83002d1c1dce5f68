using System.CommandLine;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>sample &lt;checkpoint&gt; --out FILE.png</c>: images a trained model decodes from codes drawn from N(0, I).</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A model a run saved: <run>/<experiment>/<model>/model.safetensors (or model-r2.safetensors, … for later repeats)." };
        var output = new Option<string>("--out") { Description = "The PNG file to write (its folder is created if missing).", Required = true };
        var count = new Option<int>("--count") { Description = $"Images to draw, 1 to {ModelPictures.MaxSamples:N0}, in a square grid (default 64: 8 × 8).", DefaultValueFactory = _ => 64 };
        var seed = new Option<long>("--seed") { Description = "Seed of the codes drawn from N(0, I) (default 0): the same seed draws the same picture.", DefaultValueFactory = _ => 0 };
        var command = new Command("sample", "Decode codes drawn from N(0, I) with a trained model's decoder and draw the images in a grid, as the report's generated.png. An autoencoder is sampled the same way (its codes were never drawn toward N(0, I)).")
        {
            checkpoint, output, count, seed,
        };
        command.SetAction(parsed =>
        {
            var n = parsed.GetValue(count);
            var picture = ModelPictures.WriteSamples(parsed.GetValue(checkpoint)!, parsed.GetValue(output)!, n, parsed.GetValue(seed));
            Console.WriteLine($"wrote {picture.Path}: {n} image{(n == 1 ? "" : "s")} of {picture.Model} decoded from z ~ N(0, I), seed {parsed.GetValue(seed)} ({picture.Width} × {picture.Height} pixels)");
            if (picture.IsAutoencoder)
                Console.WriteLine("note: an autoencoder's codes were never drawn toward N(0, I): these are its decoder's images of codes it may not have seen (the report's generated-fitted.png samples a Gaussian fitted to its training codes instead)");
            return ExitCodes.Success;
        });
        return command;
    }
}
