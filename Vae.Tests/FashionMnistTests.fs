module Vae.Tests.FashionMnistTests

open System
open System.IO
open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.FashionMnist
open Vae.Core.Data
open Vae.Tests.Shared

let private classCounts (split: Split) =
    use counts = split.Labels.bincount(null, minlength = 10L)
    counts.data<int64>().ToArray()

[<Tests>]
let tests =
    testList "FashionMnist" [
        test "the real data loads: 60,000 training and 10,000 test images of ten balanced classes" {
            let d = dataset.Value
            Expect.equal d.Train.Count 60000 "training images"
            Expect.equal d.Test.Count 10000 "test images"
            Expect.equal (d.Train.Images.shape) [| 60000L; 784L |] "one tensor of flattened images"
            Expect.equal d.Train.Images.dtype torch.ScalarType.Float32 "float32"
            Expect.equal (classCounts d.Train) (Array.create 10 6000L) "6,000 per class"
            Expect.equal (classCounts d.Test) (Array.create 10 1000L) "1,000 per class"
            Expect.equal classNames.Length 10 "ten class names"
        }

        test "pixels are scaled to [0, 1] and use the whole range" {
            let images = dataset.Value.Test.Images
            Expect.equal (images.min().item<float32>()) 0.0f "black"
            Expect.equal (images.max().item<float32>()) 1.0f "white"
            let mean = images.mean().item<float32>()
            Expect.isTrue (mean > 0.2f && mean < 0.4f) $"Fashion-MNIST's mean pixel is about 0.286, was {mean}"
        }

        test "the repository's files are the official ones" {
            let dir = (repositoryDirectory Environment.CurrentDirectory |> Option.orElse (repositoryDirectory AppContext.BaseDirectory)).Value
            for file in officialFiles do
                readOfficial dir file |> ignore // raises on a checksum mismatch
        }

        test "each official file's recorded size is its decompressed size, and one byte less refuses it" {
            let dir = (repositoryDirectory Environment.CurrentDirectory |> Option.orElse (repositoryDirectory AppContext.BaseDirectory)).Value
            for file in officialFiles do
                let path = Path.Combine(dir, file.Name)
                Expect.equal (Idx.readContent file.DecompressedSize path).Length file.DecompressedSize file.Name
                Expect.equal
                    (messageOf<InvalidInputException> (fun () -> Idx.readContent (file.DecompressedSize - 1) path |> ignore))
                    $"{path}: decompresses to more than {file.DecompressedSize - 1} bytes, the most it may hold (a gzip bomb or the wrong file)"
                    file.Name
        }

        test "the split is deterministic, disjoint and of the asked sizes" {
            let train = dataset.Value.Train
            let t1, v1 = trainValidationSplit 7L 5000 train
            let t2, v2 = trainValidationSplit 7L 5000 train
            let _, v3 = trainValidationSplit 8L 5000 train
            Expect.equal (t1.Count, v1.Count) (55000, 5000) "sizes"
            Expect.isTrue (same (v1.Images) (v2.Images)) "same seed, same validation images"
            Expect.isFalse (same (v1.Images) (v3.Images)) "another seed, other images"
            // Disjoint and complete: the images' sums are a fingerprint of each row.
            let rowSums (s: Split) = values (s.Images.sum(1L)) |> Array.map (fun v -> Math.Round(v, 3))
            let all = Array.append (rowSums t1) (rowSums v1) |> Array.sort
            Expect.sequenceEqual all (rowSums train |> Array.sort) "together they are the training set, each image once"
        }

        test "an explicit folder that lacks the files is named with what is missing" {
            let dir = temporaryDirectory ()
            let m = messageOf<InvalidInputException> (fun () -> locate (Some dir) |> ignore)
            Expect.stringContains m dir "the folder"
            Expect.stringContains m "train-images-idx3-ubyte.gz" "a missing file"
        }

        test "FASHION_MNIST_DIR is searched before the repository's folder" {
            let dir = temporaryDirectory ()
            let before = Environment.GetEnvironmentVariable EnvironmentVariable
            try
                Environment.SetEnvironmentVariable(EnvironmentVariable, dir)
                let searched = searchDirectories None
                Expect.equal searched.Head dir "first"
                Expect.contains searched DebianDirectory "Debian's folder last"
            finally
                Environment.SetEnvironmentVariable(EnvironmentVariable, before)
        }

        test "a copy of the files in another folder loads from there" {
            let dir = temporaryDirectory ()
            let source = locate None
            for f in officialFiles do File.Copy(Path.Combine(source, f.Name), Path.Combine(dir, f.Name))
            Expect.equal (locate (Some dir)) dir "the explicit folder"
            let d = load (Some dir)
            Expect.isTrue (same (d.Test.Images) (dataset.Value.Test.Images)) "same content"
        }
    ]
