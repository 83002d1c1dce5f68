/// Any data set in the IDX format: a folder's four files loaded and checked, its description, and
/// definitions that name it (a run of one through the runner is in RunnerTests).
module Vae.Tests.DataTests

open System
open System.IO
open Expecto
open Vae.Core
open Vae.Core.Data
open Vae.Core.Experiments
open Vae.Tests.Shared

let private shapes = { Folder = ""; Classes = [ "stripes"; "columns"; "squares" ]; Interpolation = 0, 2 }

/// A 12 × 12 data set of three classes in a fresh folder: 300 training and 60 test images.
let private twelve (gzip: bool) = writeIdxDataSet (temporaryDirectory ()) (12, 12) 3 300 60 gzip

let private refusal (f: unit -> 'a) = messageOf<InvalidInputException> (f >> ignore)

/// A definition of one small VAE on the data of `data` (JSON of the data block).
let private definition (data: string) =
    $"""{{ "name": "d", "data": {data},
          "training": {{ "maxEpochs": 1, "batchSize": 32, "learningRate": 0.001, "seed": 1 }},
          "models": [ {{ "name": "a", "kind": "vae", "hidden": [8], "latent": 2 }} ] }}"""

/// Writes `json` as `name`.json into `dir` and returns its path.
let private write (dir: string) (name: string) (json: string) =
    let path = Path.Combine(dir, name + ".json")
    File.WriteAllText(path, json)
    path

let private folderData (folder: string) (validation: int) =
    $"""{{ "folder": "{folder}", "classes": ["stripes", "columns", "squares"], "validationSize": {validation}, "splitSeed": 42 }}"""

[<Tests>]
let tests =
    testList "Data" [
        test "a folder of raw IDX files loads: 12 × 12 images of three classes, each file's SHA-256 recorded" {
            let dir = twelve false
            let data = loadFolder { shapes with Folder = dir }
            Expect.equal (data.Train.Images.shape, data.Test.Images.shape) ([| 300L; 144L |], [| 60L; 144L |]) "flattened 12 × 12 images"
            let d = data.Description
            Expect.equal (d.Height, d.Width, d.Pixels, d.TrainImages, d.TestImages) (12, 12, 144, 300, 60) "size and counts"
            Expect.equal d.Name (Path.GetFileName dir) "named after its folder"
            Expect.equal d.Folder (Some dir) "its folder"
            Expect.equal (d.Files |> List.map fst) StandardNames "the four files, raw"
            let expected = sha256Hex (File.ReadAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte")))
            Expect.equal (snd d.Files.[3]) expected "the test labels' SHA-256"
            Expect.equal (data.Test.Labels.data<int64>().ToArray() |> Array.distinct |> Array.sort) [| 0L; 1L; 2L |] "labels 0–2"
            let pixels = values data.Train.Images
            Expect.isTrue (pixels |> Array.forall (fun v -> v >= 0.0 && v <= 1.0)) "pixels in [0, 1]"
        }

        test "gzip-compressed files load to the same images, their SHA-256 that of the decompressed content" {
            let raw = loadFolder { shapes with Folder = twelve false }
            let zipped = loadFolder { shapes with Folder = twelve true }
            Expect.isTrue (same raw.Train.Images zipped.Train.Images && same raw.Test.Labels zipped.Test.Labels) "same content"
            Expect.equal (zipped.Description.Files |> List.map fst) (StandardNames |> List.map (fun n -> n + ".gz")) "the .gz names"
            Expect.equal (zipped.Description.Files |> List.map snd) (raw.Description.Files |> List.map snd) "checksums of the content"
        }

        test "a label beyond the classes named is refused, naming the file, the label and the class count" {
            let dir = twelve false
            let m = refusal (fun () -> loadFolder { shapes with Folder = dir; Classes = [ "stripes"; "columns" ]; Interpolation = 0, 1 })
            Expect.stringContains m (Path.Combine(dir, "train-labels-idx1-ubyte")) "the file"
            Expect.stringContains m "label 2 at index 2 is outside 0–1 (2 classes)" "the label"
        }

        test "test images of another size than the training images are refused, naming both sizes" {
            let dir = twelve false
            let other = writeIdxDataSet (temporaryDirectory ()) (10, 12) 3 30 60 false
            File.Copy(Path.Combine(other, "t10k-images-idx3-ubyte"), Path.Combine(dir, "t10k-images-idx3-ubyte"), true)
            Expect.stringContains (refusal (fun () -> loadFolder { shapes with Folder = dir })) "t10k-images-idx3-ubyte: images are 10 × 12, the training images (train-images-idx3-ubyte) are 12 × 12" "sizes"
        }

        test "images and labels that disagree on the count are refused" {
            let dir = twelve false
            let other = writeIdxDataSet (temporaryDirectory ()) (12, 12) 3 30 59 false
            File.Copy(Path.Combine(other, "t10k-labels-idx1-ubyte"), Path.Combine(dir, "t10k-labels-idx1-ubyte"), true)
            Expect.stringContains (refusal (fun () -> loadFolder { shapes with Folder = dir })) "t10k-labels-idx1-ubyte: 59 labels, but" "counts"
        }

        test "images that are not n × height × width are refused" {
            let dir = twelve false
            File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), Idx.serialise { Dimensions = [ 300; 144 ]; Data = Array.zeroCreate (300 * 144) })
            Expect.stringContains (refusal (fun () -> loadFolder { shapes with Folder = dir })) "images must be n × height × width with both at least 1, the header declares [300; 144]" "rank"
        }

        test "a missing file, a file there twice and a missing folder are refused, naming the folder" {
            let dir = twelve false
            File.Delete(Path.Combine(dir, "t10k-labels-idx1-ubyte"))
            Expect.stringContains (refusal (fun () -> loadFolder { shapes with Folder = dir })) $"{dir}: has no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz" "missing"
            let both = twelve false
            File.WriteAllBytes(Path.Combine(both, "train-images-idx3-ubyte.gz"), Idx.gzip (File.ReadAllBytes(Path.Combine(both, "train-images-idx3-ubyte"))))
            Expect.stringContains (refusal (fun () -> loadFolder { shapes with Folder = both })) $"{both}: holds both train-images-idx3-ubyte and train-images-idx3-ubyte.gz; keep one" "both"
            let nowhere = Path.Combine(dir, "nowhere")
            Expect.equal (refusal (fun () -> loadFolder { shapes with Folder = nowhere })) $"{nowhere}: no such folder" "no folder"
        }

        test "a test set without an image of an interpolated class, or with fewer than nine images, is refused" {
            let dir = writeIdxDataSet (temporaryDirectory ()) (12, 12) 2 100 20 false
            Expect.stringContains
                (refusal (fun () -> loadFolder { shapes with Folder = dir }))
                "has no test image of class 2 (\"squares\"), which the interpolation walks between" "interpolated class"
            let few = writeIdxDataSet (temporaryDirectory ()) (12, 12) 3 100 8 false
            Expect.stringContains (refusal (fun () -> loadFolder { shapes with Folder = few })) "holds 8 test images; the report shows 9 of them" "too few"
        }

        test "the training images' count and size are read from their header alone" {
            let dir = twelve true
            Expect.equal (trainingShape dir) (300, 12, 12) "count, height, width"
            Expect.equal (DataSource.trainingShape FashionMnistFiles) (60000, 28, 28) "Fashion-MNIST's"
            File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Idx.gzip [| 0uy; 0uy; 8uy |])
            Expect.stringContains (refusal (fun () -> trainingShape dir)) "too short for an IDX header" "a truncated header"
        }

        test "the report's nine test images take each class in turn; with ten classes one of each of the first nine" {
            let data = loadFolder { shapes with Folder = twelve false }
            let examples = Analysis.examples 9 3 data.Test
            // Labels cycle 0, 1, 2: the test images in order are the round robin.
            Expect.isTrue (same examples (data.Test.Images.narrow(0L, 0L, 9L))) "classes 0, 1, 2, 0, 1, 2, …"
            let labels = dataset.Value.Test.Labels.data<int64>().ToArray()
            let firsts = [| for c in 0L .. 8L -> int64 (Array.findIndex ((=) c) labels) |]
            use index = TorchSharp.torch.tensor firsts
            Expect.isTrue (same (Analysis.examples 9 10 dataset.Value.Test) (dataset.Value.Test.Images.index_select(0L, index))) "Fashion-MNIST: as before"
        }

        test "a definition's data folder resolves against the definition's own folder" {
            let root = temporaryDirectory ()
            writeIdxDataSet (Path.Combine(root, "shapes")) (12, 12) 3 300 60 false |> ignore
            let path = write root "d" (definition (folderData "shapes" 50))
            match loadFile path with
            | Experiment e ->
                match e.Data.Source with
                | IdxFolder f ->
                    Expect.equal f.Folder (Path.Combine(root, "shapes")) "beside the definition, whatever the working folder"
                    Expect.equal f.Classes shapes.Classes "classes"
                    Expect.equal f.Interpolation (0, 2) "first to last class by default"
                | FashionMnistFiles -> failtest "a folder"
            | Study _ -> failtest "an experiment"
            let _, experiments = plan path
            Expect.equal (experiments |> List.map _.Name) [ "d" ] "planned"
        }

        test "interpolate names two classes by name or label" {
            let parsed data =
                match parse "d.json" (definition data) with
                | Experiment { Data = { Source = IdxFolder f } } -> f.Interpolation
                | _ -> failtest "a folder"
            let block (interpolate: string) = (folderData "x" 5).Replace("\"validationSize\"", $"\"interpolate\": {interpolate}, \"validationSize\"")
            Expect.equal (parsed (block "[\"squares\", \"stripes\"]")) (2, 0) "by name"
            Expect.equal (parsed (block "[1, 2]")) (1, 2) "by label"
        }

        testList "every rule of a data block has its message" [
            let data (block: string) = messageOf<InvalidInputException> (fun () -> parse "d.json" (definition block) |> ignore)
            let cases =
                [ "a folder needs classes", """{ "folder": "x", "validationSize": 5, "splitSeed": 1 }""", "d.json: data.classes: is required"
                  "classes need a folder", """{ "classes": ["a", "b"], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.classes: describes the data set of a folder"
                  "interpolate needs a folder", """{ "interpolate": [0, 1], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.interpolate: describes the data set of a folder"
                  "at least two classes", """{ "folder": "x", "classes": ["a"], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.classes: must be an array of 2 to 10 class names"
                  "at most ten classes", $"""{{ "folder": "x", "classes": [{String.Join(", ", List.init 11 (sprintf "\"c%d\""))}], "validationSize": 5, "splitSeed": 1 }}""", "d.json: data.classes: has 11 classes; at most 10"
                  "classes are strings", """{ "folder": "x", "classes": ["a", 2], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.classes[1]: must be a string, was 2"
                  "a class has a name", """{ "folder": "x", "classes": ["a", " "], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.classes[1]: must name the class, was empty"
                  "a class is named once", """{ "folder": "x", "classes": ["a", "b", "a"], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.classes[2]: \"a\" is already data.classes[0]"
                  "a class name is short", $"""{{ "folder": "x", "classes": ["a", "{String('b', 41)}"], "validationSize": 5, "splitSeed": 1 }}""", "is 41 characters long; a class name is at most 40"
                  "interpolate names a class", """{ "folder": "x", "classes": ["a", "b"], "interpolate": ["a", "z"], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.interpolate[1]: \"z\" is not one of data.classes"
                  "interpolate by a label in range", """{ "folder": "x", "classes": ["a", "b"], "interpolate": [0, 2], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.interpolate[1]: must be at most 1, was 2"
                  "interpolate between two classes", """{ "folder": "x", "classes": ["a", "b"], "interpolate": ["b", 1], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.interpolate: walks from a class to itself (\"b\")"
                  "interpolate two classes", """{ "folder": "x", "classes": ["a", "b"], "interpolate": [0], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.interpolate: must be two classes to walk between"
                  "a folder is named", """{ "folder": "", "classes": ["a", "b"], "validationSize": 5, "splitSeed": 1 }""", "d.json: data.folder: must name a folder"
                  "data's keys are known", """{ "foldr": "x", "validationSize": 5, "splitSeed": 1 }""", "d.json: data.foldr: unknown property (allowed here: folder, classes, interpolate, validationSize, splitSeed)" ]
            for name, block, message in cases -> test name { Expect.stringContains (data block) message "names the path and the rule" }
        ]

        test "the plan checks the validation size against the data's training images, naming the definition" {
            let root = temporaryDirectory ()
            writeIdxDataSet (Path.Combine(root, "shapes")) (12, 12) 3 300 60 false |> ignore
            let path = write root "d" (definition (folderData "shapes" 300))
            Expect.equal
                (refusal (fun () -> plan path))
                $"{path}: data.validationSize: must be between 1 and 299, was 300: the data set has 300 training images, and some must be left to train on"
                "a folder's"
            let fashion = write root "f" (definition """{ "validationSize": 60000, "splitSeed": 42 }""")
            Expect.stringContains (refusal (fun () -> plan fashion)) $"{fashion}: data.validationSize: must be between 1 and 59999, was 60000" "Fashion-MNIST's"
        }

        test "one validation-size rule: the plan, the split and the façade's training refuse the same sizes with the same words" {
            let root = temporaryDirectory ()
            writeIdxDataSet (Path.Combine(root, "shapes")) (12, 12) 3 300 60 false |> ignore
            let data = Data.loadFolder { Folder = Path.Combine(root, "shapes"); Classes = [ "a"; "b"; "c" ]; Interpolation = (0, 2) }
            for size in [ 0; 300; -1 ] do
                let split = messageOf<InvalidInputException> (fun () -> Data.trainValidationSplit 1L size data.Train |> ignore)
                Expect.equal split $"data: validationSize: {(Data.validationSizeProblem 300 size).Value}" $"the split refuses {size}"
                Expect.stringContains split $"must be between 1 and 299, was {size}" "the bounds"
            Expect.isNone (Data.validationSizeProblem 300 1) "one image is enough"
            Expect.isNone (Data.validationSizeProblem 300 299) "one left to train on is enough"
            let facade =
                messageOf<InvalidInputException> (fun () ->
                    Vae.Facade.VaeModel.Create(Vae.Facade.ModelSpec.Baseline).TrainAsync(Vae.Facade.FashionMnistData.Load(), validationSize = 60000) |> ignore)
            Expect.equal facade $"validationSize: {(Data.validationSizeProblem 60000 60000).Value}" "the façade's"
        }

        test "the plan refuses a missing data folder, naming the definition and data.folder" {
            let root = temporaryDirectory ()
            let path = write root "d" (definition (folderData "nowhere" 5))
            Expect.equal (refusal (fun () -> plan path)) $"""{path}: data.folder: {Path.Combine(root, "nowhere")}: no such folder""" "named"
        }

        test "architectureOf across image sizes and bestOf across data sets are refused before training" {
            let root = temporaryDirectory ()
            writeIdxDataSet (Path.Combine(root, "shapes")) (12, 12) 3 300 60 false |> ignore
            write root "small" ((definition (folderData "shapes" 50)).Replace("\"name\": \"d\"", "\"name\": \"small\"")) |> ignore
            let refers (name: string) (model: string) =
                write root name ((definition """{ "validationSize": 5000, "splitSeed": 42 }""").Replace("\"name\": \"d\"", $"\"name\": \"{name}\"").Replace("""{ "name": "a", "kind": "vae", "hidden": [8], "latent": 2 }""", model))
            Expect.equal
                (refusal (fun () -> plan (refers "arch" """{ "name": "b", "kind": "ae", "architectureOf": "small" }""")))
                $"""{Path.Combine(root, "arch.json")}: models[0].architectureOf: "small" trains on 12 × 12 images, this experiment on 28 × 28; an architecture's input is its image size"""
                "architectureOf"
            Expect.stringContains
                (refusal (fun () -> plan (refers "best" """{ "name": "b", "bestOf": "small" }""")))
                "models[0].bestOf: \"small\" trains on other data (the IDX files of"
                "bestOf"
        }

        test "a model of a folder's data takes its image size as input, and the plan checks its memory with it" {
            let root = temporaryDirectory ()
            writeIdxDataSet (Path.Combine(root, "shapes")) (12, 12) 3 300 60 false |> ignore
            let path = write root "d" ((definition (folderData "shapes" 50)).Replace("[8]", "[100000, 100000]"))
            Expect.stringContains (messageOf<exn> (fun () -> plan path |> ignore)) "models[0]: VAE 144-100000-100000-2 has" "the memory check names 144 inputs"
        }
    ]
