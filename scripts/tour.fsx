// A tour of Vae.Core from F# Interactive, in the spirit of DiffSharp's examples: load the data,
// train a VAE for one epoch, evaluate it, save it, load it back and check it is the same model.
//
//   dotnet build Vae.Core -c Release        (once)
//   dotnet fsi scripts/tour.fsx
//
// TorchSharp comes from the NuGet packages folder; Vae.Core finds its native libraries there (and,
// on hosts whose libstdc++ is older than GCC 13's, writes a patched copy of TorchSharp's shim into
// ~/.cache/vae-dotnet/native, never into the packages folder).
#r "nuget: TorchSharp-cpu, 0.107.0"
#r "../Vae.Core/bin/Release/net10.0/Vae.Core.dll"

open System.IO
open Vae.Core

// The repository's data/fashion-mnist, $FASHION_MNIST_DIR, the per-user cache, or a download.
let data = OnEngine.loadData None
printfn $"data: {data.Train.Count:N0} training and {data.Test.Count:N0} test images"

// The seed study's five-layer VAE, 784-400-200-100-20 with a mirrored decoder.
let architecture = Architecture.create Vae [ 400; 200; 100 ] 20
let model = OnEngine.createModel 1L architecture
printfn $"model: {architecture}, {Architecture.parameterCount architecture:N0} parameters"

// One epoch on 55,000 images, 5,000 held out for validation.
let options = { Training.TrainingOptions.defaults with MaxEpochs = 1; Patience = None }
let result = OnEngine.train Training.TrainingHooks.none options 42L 5000 data model
for epoch in result.History do
    printfn $"epoch {epoch.Epoch}: training loss {epoch.TrainLoss:F1}, validation loss {epoch.ValidationLoss:F1} nats per image"

// The test set: mean reconstruction (binary cross-entropy), KL and their sum, per image.
let test = OnEngine.evaluate 0L result.Model data.Test
printfn $"test: reconstruction {test.Reconstruction:F1} + KL {test.Kl:F1} = {test.Loss:F1}"

// Saved as safetensors (PyTorch can load it: see the README), loaded back, evaluated again.
let path = Path.Combine(Path.GetTempPath(), "tour-five-layer.safetensors")
OnEngine.save path result.Model
let reloaded = OnEngine.load path
let again = OnEngine.evaluate 0L reloaded data.Test
printfn $"reloaded from {path}: test loss {again.Loss:F1}"
if again.Loss <> test.Loss then failwith "the reloaded model evaluates differently"
printfn "tour: done"
