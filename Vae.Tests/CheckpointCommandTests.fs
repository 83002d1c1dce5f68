/// The runner's `sample` and `reconstruct`, run as a user runs them (a separate process) on the
/// checkpoints a quick run wrote: the PNGs they draw, and their one-line refusals of bad input.
module Vae.Tests.CheckpointCommandTests

open System
open System.IO
open Expecto
open SkiaSharp
open Vae.Core
open Vae.Reporting
open Vae.Tests.Shared
open Vae.Tests.Processes

/// A quick run of task3 (task1's two VAEs and task3's autoencoder, one epoch each): its folder.
let private trained =
    lazy (
        let folder = Path.Combine(temporaryDirectory (), "task3")
        let o = run [ "run"; "task3"; "--quick"; "--epochs"; "1"; "--out"; folder ]
        Expect.equal o.ExitCode 0 $"the quick run completes (stderr: {String.Join(Environment.NewLine, o.Error)})"
        folder)

let private checkpoint experiment model = Path.Combine(trained.Value, RunLayout.Checkpoint(experiment, model))

/// A checkpoint of an untrained perceptron of `input` values per image.
let private perceptron (input: int) =
    let path = Path.Combine(temporaryDirectory (), $"mlp-{input}.safetensors")
    OnEngine.save path (OnEngine.createModel 1L (Architecture.createFor input Vae [ 8 ] 2))
    path

/// A PNG's size and the grey values of the pixels in a rectangle (x, y, width, height).
let private pixels (path: string) (x: int, y: int, width: int, height: int) =
    use bitmap = SKBitmap.Decode path
    Expect.isNotNull bitmap $"{path} decodes as an image"
    (bitmap.Width, bitmap.Height), [| for row in y .. y + height - 1 do for column in x .. x + width - 1 -> bitmap.GetPixel(column, row).Red |]

let private size (path: string) = fst (pixels path (0, 0, 1, 1))

/// The standard deviation of grey values: a blank picture's is 0.
let private spread (values: byte[]) =
    let mean = values |> Array.averageBy float
    sqrt (values |> Array.averageBy (fun v -> (float v - mean) ** 2.0))

/// Exit code 0, nothing on stderr, and the file written.
let private wrote (path: string) (o: Outcome) =
    Expect.equal o.ExitCode 0 $"exit code 0 (stderr: {String.Join(Environment.NewLine, o.Error)})"
    Expect.isEmpty o.Error "nothing on stderr"
    Expect.isTrue (File.Exists path) $"{path} written"
    Expect.stringStarts (List.head o.Output) $"wrote {path}:" "says what it wrote"

// The pictures' layout (ImageGridPng): tiles of 112 pixels for 28 × 28 images, 4 apart, 16 of margin, 58 of titles.
let private tile, gap, margin, titles = 112, 4, 16, 58

[<Tests>]
let tests =
    testSequenced <| testList "CheckpointCommands" [
        test "sample draws 64 images decoded from N(0, I) in an 8 × 8 grid by default, not blank; the same seed draws the same picture" {
            let dir = temporaryDirectory ()
            let first = Path.Combine(dir, "samples.png")
            let o = run [ "sample"; checkpoint "task1" "baseline"; "--out"; first ]
            wrote first o
            Expect.stringContains (List.head o.Output) "64 images of VAE 784-400-20 decoded from z ~ N(0, I), seed 0" "names the model and the seed"
            let side = 2 * margin + 8 * tile + 7 * gap
            let (width, height), grey = pixels first (margin, titles, 8 * tile + 7 * gap, 8 * tile + 7 * gap)
            Expect.equal (width, height) (side, titles + 8 * tile + 7 * gap + margin) "8 × 8 tiles"
            Expect.isGreaterThan (spread grey) 20.0 "the images are not blank"
            let again = Path.Combine(dir, "again.png")
            wrote again (run [ "sample"; checkpoint "task1" "baseline"; "--seed"; "0"; "--out"; again ])
            Expect.equal (File.ReadAllBytes again) (File.ReadAllBytes first) "--seed 0, the default: the same picture, byte for byte"
            let other = Path.Combine(dir, "other.png")
            wrote other (run [ "sample"; checkpoint "task1" "baseline"; "--seed"; "7"; "--out"; other ])
            Expect.notEqual (File.ReadAllBytes other) (File.ReadAllBytes first) "another seed, other images"
        }

        test "sample --count 9 is the size of the report's generated.png; --count 1000 a 32 × 32 grid" {
            let dir = temporaryDirectory ()
            let nine = Path.Combine(dir, "nine.png")
            wrote nine (run [ "sample"; checkpoint "task1" "five-layer"; "--count"; "9"; "--out"; nine ])
            Expect.equal (size nine) (size (Path.Combine(trained.Value, RunLayout.ModelImages("task1", "five-layer").Generated))) "as generated.png"
            let many = Path.Combine(dir, "sub", "many.png")
            wrote many (run [ "sample"; checkpoint "task1" "five-layer"; "--count"; "1000"; "--out"; many ])
            Expect.equal (size many) (2 * margin + 32 * tile + 31 * gap, titles + 32 * tile + 31 * gap + margin) "32 columns, 32 rows (the last holds 8), in a folder it made"
        }

        test "sample draws an autoencoder's decoder from N(0, I) too, and says what that shows" {
            let path = Path.Combine(temporaryDirectory (), "ae.png")
            let o = run [ "sample"; checkpoint "task3" "autoencoder"; "--count"; "16"; "--out"; path ]
            wrote path o
            Expect.stringContains (String.Join("\n", o.Output)) "note: an autoencoder's codes were never drawn toward N(0, I)" "the note"
            let _, grey = pixels path (margin, titles, 4 * tile + 3 * gap, 4 * tile + 3 * gap)
            Expect.isGreaterThan (spread grey) 5.0 "not blank"
        }

        test "sample draws a perceptron of 144 inputs as 12 × 12 images" {
            let path = Path.Combine(temporaryDirectory (), "small.png")
            wrote path (run [ "sample"; perceptron 144; "--count"; "4"; "--out"; path ])
            // 12 × 12 images drawn 9 times over: tiles of 108.
            Expect.equal (size path) (2 * margin + 2 * 108 + gap, titles + 2 * 108 + gap + margin) "2 × 2 tiles of 108 pixels"
        }

        test "reconstruct draws the report's test images above their reconstructions, as its reconstruction.png does" {
            let dir = temporaryDirectory ()
            let path = Path.Combine(dir, "reconstruction.png")
            wrote path (run [ "reconstruct"; checkpoint "task1" "baseline"; "--out"; path ])
            let report = Path.Combine(trained.Value, RunLayout.ModelImages("task1", "baseline").Reconstruction)
            let tiles = (margin + 40, titles, 9 * tile + 8 * gap, 2 * tile + gap)
            let (width, height), drawn = pixels path tiles
            let reportSize, reported = pixels report tiles
            Expect.equal (width, height) reportSize "the size of the report's picture (9 by default)"
            Expect.equal drawn reported "the same images and reconstructions, pixel for pixel"
            Expect.isGreaterThan (spread drawn) 20.0 "not blank"
            let more = Path.Combine(dir, "more.png")
            wrote more (run [ "reconstruct"; checkpoint "task3" "autoencoder"; "--count"; "25"; "--out"; more ])
            // Ten to a row: three pairs of rows, 12 apart.
            Expect.equal (size more) (2 * margin + 40 + 10 * tile + 9 * gap, titles + 3 * (2 * tile + gap) + 2 * 12 + margin) "10 columns, 3 pairs of rows"
        }

        test "bad input: one line naming the problem, exit code 2, no picture" {
            let dir = temporaryDirectory ()
            let out = Path.Combine(dir, "out.png")
            let garbage = Path.Combine(dir, "garbage.safetensors")
            File.WriteAllBytes(garbage, Array.init 4096 byte)
            let truncated = Path.Combine(dir, "truncated.safetensors")
            let bytes = File.ReadAllBytes(checkpoint "task1" "baseline")
            File.WriteAllBytes(truncated, bytes.[.. bytes.Length / 2])
            let definition = Path.Combine(Experiments.searchDirectories () |> List.head, "task1.json")
            let folder = Path.Combine(dir, "folder.png")
            Directory.CreateDirectory folder |> ignore
            let good = checkpoint "task1" "baseline"
            let cases =
                [ [ "sample"; Path.Combine(dir, "missing.safetensors"); "--out"; out ], "missing.safetensors"
                  [ "sample"; garbage; "--out"; out ], $"{garbage}: "
                  [ "reconstruct"; truncated; "--out"; out ], $"{truncated}: "
                  [ "sample"; definition; "--out"; out ], "task1.json: "
                  [ "sample"; dir; "--out"; out ], $"{dir}: "
                  [ "sample"; perceptron 150; "--out"; out ], "a perceptron of 150 values per image, which is no square"
                  [ "reconstruct"; perceptron 144; "--out"; out ], "a model of 12 × 12 images; reconstruct shows Fashion-MNIST's test images, 28 × 28"
                  [ "sample"; good; "--out"; Path.Combine(dir, "out.jpg") ], "out.jpg: must be a PNG file: a name ending in .png"
                  [ "reconstruct"; good; "--out"; Path.Combine(dir, "out") ], "must be a PNG file"
                  [ "sample"; good; "--out"; folder ], $"output file {folder}: is a folder"
                  [ "sample"; good; "--out"; "/proc/vae/out.png" ], "output file /proc/vae/out.png: cannot be written"
                  [ "sample"; good; "--out"; "" ], "--out: must not be empty"
                  [ "sample"; good; "--count"; "0"; "--out"; out ], "--count: must be between 1 and 1,000, was 0"
                  [ "sample"; good; "--count"; "1001"; "--out"; out ], "--count: must be between 1 and 1,000, was 1001"
                  [ "reconstruct"; good; "--count"; "101"; "--out"; out ], "--count: must be between 1 and 100, was 101"
                  [ "reconstruct"; good; "--count"; "-1"; "--out"; out ], "--count: must be between 1 and 100, was -1"
                  [ "sample"; good; "--count"; "many"; "--out"; out ], "many"
                  [ "sample"; good; "--seed"; "x"; "--out"; out ], "x"
                  [ "sample"; good ], "--out"
                  [ "reconstruct"; good; "--data"; dir; "--out"; out ], "no Fashion-MNIST files here"
                  [ "reconstruct"; good; "--data"; ""; "--out"; out ], "--data: must not be empty" ]
            for arguments, expected in cases do
                let o = run arguments
                let what = String.Join(" ", arguments)
                Expect.equal o.ExitCode 2 $"{what}: exit code 2 (stderr: {String.Join(Environment.NewLine, o.Error)})"
                Expect.hasLength o.Error 1 $"{what}: one line on stderr ({String.Join(Environment.NewLine, o.Error)})"
                Expect.stringContains o.FirstError expected $"{what}: the line names the problem"
                Expect.isFalse (File.Exists out) $"{what}: no picture"
            Expect.equal (Processes.entries dir |> List.filter (fun e -> e.EndsWith ".probe")) [] "no probe file left"
        }
    ]
