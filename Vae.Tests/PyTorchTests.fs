/// The README's PyTorch module, run by a real PyTorch (Debian's python3-torch, which .ci/run
/// installs): it loads checkpoints of every kind of composed model with strict=True, and its forward
/// pass gives the reconstruction loss this library gives.
module Vae.Tests.PyTorchTests

open System
open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

/// The README's Python block (the module), found by walking up from the test program's folder.
let private readmeModule () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failtest "README.md not found above the test program"
        else
            let candidate = Path.Combine(dir.FullName, "README.md")
            if File.Exists candidate then candidate else up dir.Parent
    let lines = File.ReadAllLines(up (DirectoryInfo AppContext.BaseDirectory))
    let start = lines |> Array.findIndex (fun l -> l = "```python")
    let length = lines |> Array.skip (start + 1) |> Array.findIndex (fun l -> l = "```")
    String.Join("\n", lines.[start + 1 .. start + length])

/// The forward pass the README describes, in PyTorch: the mean reconstruction loss of the images in
/// argv[2] (float32, [n; 784]) through each checkpoint's code (μ for a VAE), one line per checkpoint.
let private forward = """
import sys, numpy as np, torch, torch.nn.functional as F
exec(open(sys.argv[1]).read())
x = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 784))
for path in sys.argv[3:]:
    m = load(path); e, d = m.encoder, m.decoder
    with torch.no_grad():
        h = x.view(-1, 1, 28, 28) if len(e.conv) else x
        for c in e.conv: h = F.relu(c(h))
        h = h.flatten(1); i = 0
        while str(i) in e._modules: h = F.relu(e._modules[str(i)](h)); i += 1
        first = d._modules['0'] if '0' in d._modules else d.output
        h = e.head(h)[:, :first.in_features]; i = 0
        while str(i) in d._modules: h = F.relu(d._modules[str(i)](h)); i += 1
        if len(e.conv):
            s = 28 >> len(e.conv); h = h.view(-1, (d.deconv[0] if len(d.deconv) else d.output).in_channels, s, s)
            for u in d.deconv: h = F.relu(u(h))
        logits = d.output(h).flatten(1)
        print('%.6f' % (F.binary_cross_entropy_with_logits(logits, x, reduction='sum').item() / len(x)))
"""

[<Tests>]
let tests =
    testList "PyTorch" [
        test "the README's PyTorch module loads conv, β and perceptron checkpoints with strict=True and reconstructs as this library does" {
            let python = "/usr/bin/python3"
            Expect.isTrue (File.Exists python) "Debian's python3 with python3-torch (installed by .ci/run)"
            let dir = temporaryDirectory ()
            let script = Path.Combine(dir, "module.py")
            File.WriteAllText(script, readmeModule ())
            File.WriteAllText(Path.Combine(dir, "forward.py"), forward)
            let images = Data.take 500 dataset.Value.Test
            File.WriteAllBytes(Path.Combine(dir, "x.f32"), images.Images.contiguous().bytes.ToArray())
            let designs =
                [ "conv-vae", Architecture.ofDesign (28, 28) { Kind = Vae; Conv = [ 32; 64 ]; Hidden = [ 256 ]; Latent = 20; Beta = 4.0 }
                  "conv-ae", Architecture.ofDesign (28, 28) { Kind = Autoencoder; Conv = [ 8 ]; Hidden = []; Latent = 5; Beta = 1.0 }
                  "five-layer", Architecture.fiveLayer
                  "flat-ae", Architecture.create Autoencoder [] 7 ]
            let expected =
                [ for name, architecture in designs ->
                      let model = Model.create 5L architecture
                      Checkpoint.save (Path.Combine(dir, name + ".safetensors")) model
                      use _ = torch.no_grad ()
                      use loss = Losses.reconstruction (Model.decodeLogits model (Model.encode model images.Images)) images.Images
                      loss.mean().to_type(torch.ScalarType.Float64).item<float>() ]
            let info = ProcessStartInfo(python, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir)
            for a in [ "forward.py"; script; Path.Combine(dir, "x.f32") ] @ (designs |> List.map (fun (name, _) -> Path.Combine(dir, name + ".safetensors"))) do
                info.ArgumentList.Add a
            use p = Process.Start info
            let output = p.StandardOutput.ReadToEndAsync()
            let error = p.StandardError.ReadToEnd()
            p.WaitForExit()
            Expect.equal p.ExitCode 0 $"python exits cleanly: {error}"
            let actual = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.map float |> List.ofArray
            Expect.equal actual.Length designs.Length "one loss per checkpoint"
            for (name, _), e, a in List.zip3 designs expected actual do
                Expect.floatClose { absolute = 0.0; relative = 1e-5 } a e $"{name}: PyTorch's reconstruction loss against this library's"
            Directory.Delete(dir, true)
        }
    ]
