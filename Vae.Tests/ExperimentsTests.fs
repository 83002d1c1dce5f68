module Vae.Tests.ExperimentsTests

open System
open System.IO
open Expecto
open Vae.Core
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes
open Vae.Core.Execution
open Vae.Tests.Shared

/// A valid name of `n` characters.
let private longName (n: int) = String('n', n)

/// `n` models as a JSON array, named m0, m1, …
let private models (n: int) =
    "[" + String.Join(", ", List.init n (fun i -> $"""{{ "name": "m{i}", "kind": "vae", "hidden": [4], "latent": 2 }}""")) + "]"

/// A valid experiment, as JSON, with `models` spliced in.
let private experiment (models: string) =
    $"""{{ "name": "t", "data": {{ "validationSize": 5000, "splitSeed": 42 }},
          "training": {{ "maxEpochs": 3, "batchSize": 64, "learningRate": 0.001, "patience": 2, "seed": 1 }},
          "models": {models} }}"""

let internal valid = experiment """[ { "name": "a", "kind": "vae", "hidden": [400], "latent": 20 } ]"""

let private problem json = messageOf<InvalidInputException> (fun () -> parse "d.json" json |> ignore)

/// Each rule: a definition that breaks it, and the message that names it (SchemaTests holds the
/// definitions' JSON Schema to them too).
let internal rules =
    [ "not JSON", "{ nope", "d.json: not valid JSON"
      "root not an object", "[1]", "d.json: must be an object"
      "unknown property", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"epochs\": 3"), "d.json: epochs: unknown property"
      "name required", valid.Replace("\"name\": \"t\",", ""), "d.json: name: is required"
      "name pattern", valid.Replace("\"name\": \"t\"", "\"name\": \"Task 1\""), "d.json: name: \"Task 1\" must be lower-case letters, digits and dashes"
      "data required", valid.Replace("\"data\": { \"validationSize\": 5000, \"splitSeed\": 42 },", ""), "d.json: data: is required"
      "validation size ≥ 1", valid.Replace("\"validationSize\": 5000", "\"validationSize\": 0"), "d.json: data.validationSize: must be at least 1, was 0"
      "split seed whole", valid.Replace("\"splitSeed\": 42", "\"splitSeed\": 4.2"), "d.json: data.splitSeed: must be a whole number, was 4.2"
      "max epochs ≥ 1", valid.Replace("\"maxEpochs\": 3", "\"maxEpochs\": 0"), "d.json: training.maxEpochs: must be at least 1, was 0"
      "batch size ≥ 1", valid.Replace("\"batchSize\": 64", "\"batchSize\": -5"), "d.json: training.batchSize: must be at least 1, was -5"
      "learning rate positive", valid.Replace("\"learningRate\": 0.001", "\"learningRate\": 0"), "d.json: training.learningRate: must be a positive number, was 0"
      "learning rate a number", valid.Replace("\"learningRate\": 0.001", "\"learningRate\": \"fast\""), "d.json: training.learningRate: must be a positive number, was \"fast\""
      "patience ≥ 1", valid.Replace("\"patience\": 2", "\"patience\": 0"), "d.json: training.patience: must be at least 1, was 0"
      "seed required", valid.Replace(", \"seed\": 1", ""), "d.json: training.seed: is required"
      "models non-empty", experiment "[]", "d.json: models: must be a non-empty array"
      "kind vae or ae", valid.Replace("\"kind\": \"vae\"", "\"kind\": \"gan\""), "d.json: models[0].kind: must be \"vae\" or \"ae\", was \"gan\""
      "latent ≥ 1", experiment """[ { "name": "a", "kind": "vae", "hidden": [400], "latent": 20 }, { "name": "b", "kind": "vae", "hidden": [400], "latent": 20 }, { "name": "c", "kind": "vae", "hidden": [400], "latent": 0 } ]""", "d.json: models[2].latent: must be at least 1, was 0"
      "widths ≥ 1", valid.Replace("[400]", "[400, 0]"), "d.json: models[0].hidden[1]: must be at least 1, was 0"
      "hidden an array", valid.Replace("[400]", "400"), "d.json: models[0].hidden: must be an array of widths"
      "hidden required", valid.Replace("\"hidden\": [400], ", ""), "d.json: models[0].hidden: is required (or architectureOf, or bestOf)"
      "unique model names", experiment """[ { "name": "a", "kind": "vae", "hidden": [1], "latent": 1 }, { "name": "a", "kind": "ae", "hidden": [1], "latent": 1 } ]""", "d.json: models[1].name: \"a\" is already the name of models[0]"
      "bestOf alone", experiment """[ { "name": "a", "bestOf": "task1", "latent": 3 } ]""", "d.json: models[0].bestOf: takes a trained model as it is"
      "bestOf keeps its kind", experiment """[ { "name": "a", "bestOf": "task1", "kind": "ae" } ]""", "d.json: models[0].kind: a bestOf model keeps the kind it was trained as"
      "architectureOf without widths", experiment """[ { "name": "a", "kind": "ae", "architectureOf": "task1", "hidden": [3] } ]""", "d.json: models[0].architectureOf: takes the layers (and β) of another experiment's best VAE"
      "study has no models", """{ "name": "s", "experiments": ["task1"], "models": [] }""", "d.json: experiments: a study lists experiments and has no models of its own"
      "study has no settings", """{ "name": "s", "experiments": ["task1"], "training": {} }""", "d.json: training: a study takes the settings of the experiments it lists"
      "study lists names", """{ "name": "s", "experiments": [] }""", "d.json: experiments: must be a non-empty array of experiment names"
      "a key appears once", valid.Replace("\"seed\": 1", "\"seed\": 1, \"seed\": 2"), "d.json: training.seed: appears twice"
      "the root's keys appear once", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"name\": \"u\""), "d.json: name: appears twice"
      "a model's keys appear once", valid.Replace("\"latent\": 20", "\"latent\": 20, \"latent\": 2, \"latent\": 3"), "d.json: models[0].latent: appears 3 times"
      "name ≤ 64 characters", valid.Replace("\"name\": \"t\"", $"\"name\": \"{longName 65}\""), $"d.json: name: \"{longName 65}\" is 65 characters long; a name is at most 64 (it names folders and files of a run)"
      "model name ≤ 64 characters", valid.Replace("\"name\": \"a\"", $"\"name\": \"{longName 300}\""), $"d.json: models[0].name: \"{longName 80}…\" is 300 characters long; a name is at most 64 (it names folders and files of a run)"
      "models ≤ 1,000", experiment (models 1001), "d.json: models: has 1,001 models; at most 1,000"
      "hidden layers ≤ 100", valid.Replace("[400]", $"""[{String.Join(", ", List.replicate 101 "4")}]"""), "d.json: models[0].hidden: has 101 layers; at most 100"
      "experiments ≤ 100", $"""{{ "name": "s", "experiments": [{String.Join(", ", List.init 101 (sprintf "\"e%d\""))}] }}""", "d.json: experiments: has 101 experiments; at most 100"
      "a study lists a name once", """{ "name": "s", "experiments": ["a", "b", "a"] }""", "d.json: experiments[2]: \"a\" is already experiments[0]"
      "seed ≤ 2^62 − 1", valid.Replace("\"seed\": 1", "\"seed\": 4611686018427387904"), "d.json: training.seed: must be at most 4611686018427387903, was 4611686018427387904"
      "split seed ≤ 2^62 − 1", valid.Replace("\"splitSeed\": 42", "\"splitSeed\": 9223372036854775807"), "d.json: data.splitSeed: must be at most 4611686018427387903, was 9223372036854775807"
      "conv a non-empty array", valid.Replace("\"hidden\"", "\"conv\": [], \"hidden\""), "d.json: models[0].conv: must be a non-empty array of channel counts, e.g. [32, 64]"
      "conv channels ≥ 1", valid.Replace("\"hidden\"", "\"conv\": [32, 0], \"hidden\""), "d.json: models[0].conv[1]: must be at least 1, was 0"
      "conv channels whole", valid.Replace("\"hidden\"", "\"conv\": [3.5], \"hidden\""), "d.json: models[0].conv[0]: must be a whole number, was 3.5"
      "beta positive", valid.Replace("\"latent\": 20", "\"latent\": 20, \"beta\": 0"), "d.json: models[0].beta: must be a positive number, was 0"
      "beta a number", valid.Replace("\"latent\": 20", "\"latent\": 20, \"beta\": \"4\""), "d.json: models[0].beta: must be a positive number, was \"4\""
      "beta only on a VAE", valid.Replace("\"kind\": \"vae\"", "\"kind\": \"ae\"").Replace("\"latent\": 20", "\"latent\": 20, \"beta\": 4"), "d.json: models[0].beta: weights the KL term, which an autoencoder (kind \"ae\") does not have; was 4"
      "architectureOf takes β too", experiment """[ { "name": "a", "kind": "vae", "architectureOf": "task1", "beta": 2 } ]""", "d.json: models[0].architectureOf: takes the layers (and β) of another experiment's best VAE: no conv, hidden, latent or beta beside it"
      "bestOf without conv", experiment """[ { "name": "a", "bestOf": "task1", "conv": [8] } ]""", "d.json: models[0].bestOf: takes a trained model as it is"
      "a name with a newline is quoted escaped", valid.Replace("\"name\": \"t\"", "\"name\": \"na\\nme\""), "d.json: name: \"na\\nme\" must be lower-case letters, digits and dashes"
      "a kind with a quote is quoted escaped", valid.Replace("\"kind\": \"vae\"", "\"kind\": \"g\\\"an\""), "d.json: models[0].kind: must be \"vae\" or \"ae\", was \"g\\\"an\""
      "$schema a string", valid.Replace("\"name\": \"t\"", "\"$schema\": 5, \"name\": \"t\""), "d.json: $schema: must be a string (the JSON Schema editors check the file against), was 5"
      "$schema not null", valid.Replace("\"name\": \"t\"", "\"$schema\": null, \"name\": \"t\""), "d.json: $schema: must be a string"
      "a name ending in a newline", valid.Replace("\"name\": \"t\"", "\"name\": \"t\\n\""), "d.json: name: \"t\\n\" must be lower-case letters, digits and dashes"
      "raw JSON over several lines is shown on one", valid.Replace("\"seed\": 1", "\"seed\": {\n \"a\": 1\n}"), "d.json: training.seed: must be a whole number, was {\\n \"a\": 1\\n}" ]

/// An experiment named `name` with `models` (JSON).
let private named (name: string) (models: string) = (experiment models).Replace("\"name\": \"t\"", $"\"name\": \"{name}\"")

let private inFolder (files: (string * string) list) =
    let dir = temporaryDirectory ()
    for name, json in files do File.WriteAllText(Path.Combine(dir, name + ".json"), json)
    dir

[<Tests>]
let tests =
    testList "Experiments" [
        test "a run is a plan of jobs with stable ids and named dependencies, built without data or threads" {
            let _, experiments = plan "seed-study"
            let all = jobs RunSettings.none experiments
            Expect.equal (jobs RunSettings.none experiments) all "the same plan from the same definitions"
            let ids = all |> List.map (fun j -> string j.Id)
            Expect.equal (List.distinct ids) ids "every id once"
            Expect.equal (List.head ids) "task1/baseline/r1/train" "ids name experiment, model, repeat (from 1) and kind"
            // 3 repeats of 2 + 6 + 1 trained models (task3's bestOf VAE is task1's, not trained again).
            Expect.equal all.Length (3 * 3 * (2 + 6 + 1)) "training, measurement and IWAE estimate of each trained model"
            all |> List.iteri (fun i job ->
                for a in job.After do
                    Expect.isTrue (all |> List.take i |> List.exists (fun earlier -> earlier.Id = a)) $"{job.Id} waits for {a}, which comes before it")
            let task1Trainings = all |> List.filter (fun j -> j.Id.Experiment = "task1" && j.Id.Kind = Train) |> List.map _.Id
            let autoencoder = all |> List.filter (fun j -> j.Id.Experiment = "task3")
            Expect.equal (autoencoder |> List.map (fun j -> j.Id.Model) |> List.distinct) [ "autoencoder" ] "task3 trains only its autoencoder"
            for j in autoencoder |> List.filter (fun j -> j.Id.Kind = Train) do
                Expect.equal (set j.After) (set task1Trainings) $"{j.Id} waits for every training of task1, whose best architecture it takes"
            Expect.equal (all |> List.filter _.Exclusive |> List.map (fun j -> j.Id.Kind) |> List.distinct) [ Measure ] "only measurements are exclusive"
            Expect.isTrue (all |> List.forall (fun j -> j.Id.Kind = Train || j.After = [ { j.Id with Kind = Train } ])) "a measurement or estimate waits for its own training only"
            let waitedFor = all |> List.findIndex (fun j -> j.Id.Experiment = "task2")
            Expect.isTrue (all |> List.take waitedFor |> List.exists (fun j -> j.Id.Experiment = "task3")) "task3's trainings start as soon as task1's are done, before task2's"
            Expect.equal (jobs { RunSettings.none with Repeats = Some 1 } experiments |> List.length) (3 * 9) "--repeats 1: one of each"
        }

        testList "every rule of a definition has its message" [
            for name, json, message in rules -> test name { Expect.stringContains (problem json) message "the message names the path and the rule" }
        ]

        test "every message is one line, whatever the definition or its file name holds" {
            for name, json, _ in rules do
                let message = problem json
                Expect.isFalse (message.Contains '\n' || message.Contains '\r') $"{name}: {message}"
            Expect.equal (messageOf<InvalidInputException> (fun () -> plan "/nowhere/a\nb.json" |> ignore)) "/nowhere/a\\nb.json: no such definition file" "a file name with a newline"
        }

        test "a definition may name its JSON Schema ($schema), which changes nothing" {
            let withSchema = valid.Replace("\"name\": \"t\"", $"\"$schema\": \"{SchemaFile}\", \"name\": \"t\"")
            Expect.equal (parse "d.json" withSchema) (parse "d.json" valid) "the same definition"
            let study = """{ "$schema": "https://example.org/any.json", "name": "s", "experiments": ["task1"] }"""
            Expect.equal (parse "d.json" study).Name "s" "a study may name it too"
            Expect.stringContains (problem (valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"epochs\": 3"))) "allowed here: $schema, name," "the message lists it among the allowed"
        }

        test "a name of 64 characters, 1,000 models and a seed of 2^62 − 1 are accepted" {
            let json = (experiment (models 1000)).Replace("\"name\": \"t\"", $"\"name\": \"{longName 64}\"").Replace("\"seed\": 1", $"\"seed\": {MaxSeed}")
            match parse "d.json" json with
            | Experiment e -> Expect.equal (e.Name.Length, e.Models.Length, e.Training.Seed) (64, 1000, MaxSeed) "at the bounds"
            | Study _ -> failtest "an experiment"
        }

        test "a model name used twice is found among 1,000, with the model that had it first" {
            Expect.stringContains (problem (experiment ((models 1000).Replace("\"m999\"", "\"m3\"")))) "d.json: models[999].name: \"m3\" is already the name of models[3]" "the last model"
        }

        test "a file over 1 MB is refused without being read whole, even a device that never ends" {
            let dir = temporaryDirectory ()
            let padded size = valid + String(' ', size - valid.Length)
            let atLimit = Path.Combine(dir, "at-limit.json")
            File.WriteAllText(atLimit, padded MaxDefinitionBytes)
            Expect.equal (loadFile atLimit).Name "t" "1,000,000 bytes are read"
            let over = Path.Combine(dir, "over.json")
            File.WriteAllText(over, padded 1_500_000)
            Expect.equal
                (messageOf<InvalidInputException> (fun () -> loadFile over |> ignore))
                $"{over}: is larger than 1 MB (1,500,000 bytes); a definition is at most 1 MB of JSON (1,000 models take about 60 kB)"
                "the size"
            // It read until OutOfMemoryException at 3.9 GB: given seconds, not minutes.
            let zero = Threading.Tasks.Task.Run(fun () -> messageOf<InvalidInputException> (fun () -> plan "/dev/zero" |> ignore))
            Expect.isTrue (zero.Wait(TimeSpan.FromSeconds 10.0)) "refused within seconds"
            Expect.equal zero.Result "/dev/zero: is larger than 1 MB (more than 1,000,000 bytes); a definition is at most 1 MB of JSON (1,000 models take about 60 kB)" "no length known"
        }

        test "a valid definition reads into its parts" {
            match parse "d.json" valid with
            | Experiment e ->
                Expect.equal e.Models [ { Name = "a"; Source = Widths(Design.mlp Vae [ 400 ] 20) } ] "models"
                Expect.equal e.Training { MaxEpochs = 3; BatchSize = 64; LearningRate = 0.001; Patience = Some 2; Seed = 1L } "training"
                Expect.equal e.Data { ValidationSize = 5000; SplitSeed = 42L; Source = FashionMnistFiles } "data"
            | Study _ -> failtest "an experiment"
        }

        test "the shipped definitions are the seed study's, and all valid" {
            let shipped = shipped () |> List.map (fun (file, d) -> Path.GetFileNameWithoutExtension file, d)
            Expect.equal (shipped |> List.map fst) [ "beyond"; "seed-study"; "task1"; "task2"; "task3" ] "five definitions"
            for name, d in shipped do Expect.isOk d $"{name} is valid"
            let _, experiments = plan "task2"
            let widths = experiments.Head.Models |> List.map (fun m -> match m.Source with Widths { Kind = Vae; Conv = []; Hidden = [ h; 200; 100 ]; Latent = z; Beta = 1.0 } -> h, z | _ -> failtest "five-layer VAEs")
            Expect.equal widths [ 400, 40; 200, 50; 400, 70; 300, 30; 250, 80; 300, 5 ] "the six configurations"
            Expect.equal experiments.Head.Training { MaxEpochs = 10; BatchSize = 64; LearningRate = 0.001; Patience = Some 2; Seed = 1L } "task2's settings"
        }

        test "a study runs its experiments in order; an experiment's references run before it" {
            let _, study = plan "seed-study"
            Expect.equal (study |> List.map _.Name) [ "task1"; "task2"; "task3" ] "seed study"
            let _, alone = plan "task3"
            Expect.equal (alone |> List.map _.Name) [ "task1"; "task3" ] "task3 needs task1's best VAE"
        }

        test "a reference to a missing definition, a study, or a cycle is refused before training" {
            let dir = inFolder [ "a", (experiment """[ { "name": "m", "kind": "ae", "architectureOf": "b" } ]""").Replace("\"name\": \"t\"", "\"name\": \"a\"")
                                 "b", (experiment """[ { "name": "m", "bestOf": "a" } ]""").Replace("\"name\": \"t\"", "\"name\": \"b\"")
                                 "c", (experiment """[ { "name": "m", "bestOf": "nowhere" } ]""").Replace("\"name\": \"t\"", "\"name\": \"c\"")
                                 "d", (experiment """[ { "name": "m", "bestOf": "s" } ]""").Replace("\"name\": \"t\"", "\"name\": \"d\"")
                                 "s", """{ "name": "s", "experiments": ["c"] }""" ]
            let refusal name = messageOf<InvalidInputException> (fun () -> plan (Path.Combine(dir, name + ".json")) |> ignore)
            Expect.stringContains (refusal "a") "in a cycle (a → b → a)" "cycle"
            Expect.stringContains (refusal "c") "models[0].bestOf: refers to \"nowhere\", which is not a definition" "missing"
            Expect.stringContains (refusal "d") "refers to \"s\", a study" "study"
            Expect.stringContains (refusal "s") "c.json: models[0].bestOf: refers to \"nowhere\"" "through a study"
        }

        test "architectureOf an experiment that may have no VAE is refused before training" {
            let dir = inFolder [ "t1", named "t1" """[ { "name": "a", "kind": "ae", "hidden": [4], "latent": 2 } ]"""
                                 "t2", named "t2" """[ { "name": "b", "bestOf": "task1" } ]"""
                                 "t3", named "t3" """[ { "name": "c", "kind": "ae", "architectureOf": "t1" } ]"""
                                 "t4", named "t4" """[ { "name": "d", "kind": "vae", "architectureOf": "t2" } ]"""
                                 "t5", named "t5" """[ { "name": "e", "kind": "ae", "architectureOf": "t6" } ]"""
                                 "t6", named "t6" """[ { "name": "f", "kind": "ae", "hidden": [4], "latent": 2 }, { "name": "g", "kind": "vae", "architectureOf": "task1" } ]""" ]
            let refusal name = messageOf<InvalidInputException> (fun () -> plan (Path.Combine(dir, name + ".json")) |> ignore)
            Expect.equal (refusal "t3") $"""{Path.Combine(dir, "t3.json")}: models[0].architectureOf: "t1" has no VAE (its best VAE's architecture is taken)""" "only autoencoders"
            Expect.stringContains (refusal "t4") "t4.json: models[0].architectureOf: \"t2\" has no VAE (its best VAE's architecture is taken; a bestOf model does not count, its kind is known only once trained)" "only a bestOf model"
            Expect.equal (plan (Path.Combine(dir, "t5.json")) |> snd |> List.map _.Name) [ "task1"; "t6"; "t5" ] "a VAE that takes another's architecture counts"
        }

        test "a definition found by name has that name" {
            let dir = inFolder [ "t1", named "other" """[ { "name": "a", "kind": "vae", "hidden": [4], "latent": 2 } ]"""
                                 "t3", named "t3" """[ { "name": "c", "kind": "ae", "architectureOf": "t1" } ]"""
                                 "t4", named "t4" """[ { "name": "c", "bestOf": "t1" } ]"""
                                 "s", """{ "name": "s", "experiments": ["t1"] }""" ]
            let refusal name = messageOf<InvalidInputException> (fun () -> plan (Path.Combine(dir, name + ".json")) |> ignore)
            let expected = $"""{Path.Combine(dir, "t1.json")}: name: is "other", but the file is found as "t1"; a definition's name must match its file name"""
            Expect.equal (refusal "t3") expected "architectureOf"
            Expect.equal (refusal "t4") expected "bestOf"
            Expect.equal (refusal "s") expected "a study's entry"
            Expect.equal (plan (Path.Combine(dir, "t1.json")) |> fst |> _.Name) "other" "a file given by path may have any name"
        }

        test "a run trains at most 1,000 models, counting the experiments it refers to" {
            let dir = inFolder [ "a", named "a" (models 600); "b", named "b" (models 600); "s", """{ "name": "s", "experiments": ["a", "b"] }""" ]
            Expect.equal
                (messageOf<InvalidInputException> (fun () -> plan (Path.Combine(dir, "s.json")) |> ignore))
                $"""{Path.Combine(dir, "s.json")}: the run has 1,200 models (counting the experiments it refers to); at most 1,000"""
                "refused"
        }

        test "a model too large for this machine is refused by the plan, naming the file and the model" {
            let dir = inFolder [ "huge", named "huge" """[ { "name": "a", "kind": "vae", "hidden": [100000, 100000], "latent": 20 } ]"""
                                 "big", named "big" """[ { "name": "a", "kind": "vae", "hidden": [4], "latent": 2 }, { "name": "b", "kind": "vae", "hidden": [20000, 20000], "latent": 20 } ]""" ]
            let refusal name = messageOf<InvalidInputException> (fun () -> plan (Path.Combine(dir, name + ".json")) |> ignore)
            Expect.stringContains (refusal "huge") "huge.json: models[0]: VAE 784-100000-100000-20 has 20,163,200,824 parameters; training it needs about 496.0 GB, more than the" "huge"
            if float (Memory.budget (Memory.available ())) >= Memory.trainingBytes 64 (Architecture.create Vae [ 20000; 20000 ] 20) then
                skiptest "this machine can give 22.4 GB to one model"
            Expect.stringContains (refusal "big") "big.json: models[1]: VAE 784-20000-20000-20 has 832,640,824 parameters; training it needs about 22.4 GB, more than the" "big"
        }

        test "the beyond study: the baseline with β = 1, 0.5 and 4, a conv VAE and its autoencoder, 3 repeats of the seed's protocol" {
            let _, experiments = plan "beyond"
            let e = experiments.Head
            let designs = e.Models |> List.map (fun m -> match m.Source with Widths d -> d | _ -> failtest "explicit layers")
            Expect.equal (designs |> List.map (fun d -> d.Kind, d.Conv, d.Hidden, d.Latent, d.Beta))
                [ Vae, [], [ 400 ], 20, 1.0; Vae, [], [ 400 ], 20, 0.5; Vae, [], [ 400 ], 20, 4.0; Vae, [ 32; 64 ], [ 256 ], 20, 1.0; Autoencoder, [ 32; 64 ], [ 256 ], 20, 1.0 ]
                "the five models"
            Expect.equal (e.Repeats, e.Training) (3, Training.TrainingOptions.defaults) "3 repeats; batch 64, Adam 1e-3, up to 15 epochs, patience 3"
            let _, task1 = plan "task1"
            Expect.equal e.Data task1.Head.Data "the seed's data split"
        }

        test "every model of the seed study fits this machine" {
            let _, experiments = plan "seed-study"
            for e in experiments do
                for m in e.Models do
                    match m.Source with
                    | Widths design -> Expect.isOk (Memory.check e.Training.BatchSize (Architecture.ofDesign (28, 28) design)) $"{e.Name}/{m.Name}"
                    | _ -> ()
        }

        test "run settings are refused outside the bounds a definition's values have" {
            let refusal settings = match RunSettings.validate settings with Error m -> m | Ok _ -> "accepted"
            Expect.equal (RunSettings.validate RunSettings.none) (Ok RunSettings.none) "no overrides"
            let atBounds = { RunSettings.none with Epochs = Some 1; Seed = Some MaxSeed; Repeats = Some 100; Lanes = Some 64; BatchSize = Some 60000; LearningRate = Some Double.Epsilon }
            Expect.equal (RunSettings.validate atBounds) (Ok atBounds) "at the bounds"
            Expect.equal (refusal { RunSettings.none with Seed = Some Int64.MaxValue }) "--seed: must be at most 4611686018427387903, was 9223372036854775807" "seed too large"
            Expect.equal (refusal { RunSettings.none with Seed = Some -1L }) "--seed: must be at least 0, was -1" "seed negative"
            Expect.equal (refusal { RunSettings.none with Epochs = Some 0 }) "--epochs: must be at least 1, was 0" "no epochs"
            Expect.equal (refusal { RunSettings.none with Epochs = Some 100001 }) "--epochs: must be at most 100000, was 100001" "too many epochs"
            Expect.equal (refusal { RunSettings.none with Repeats = Some 0 }) "--repeats: must be between 1 and 100, was 0" "no repeats"
            Expect.equal (refusal { RunSettings.none with Repeats = Some 101 }) "--repeats: must be between 1 and 100, was 101" "too many repeats"
            Expect.equal (refusal { RunSettings.none with Lanes = Some 0 }) "--lanes: must be between 1 and 64, was 0" "no lanes"
            Expect.equal (refusal { RunSettings.none with Lanes = Some 65 }) "--lanes: must be between 1 and 64, was 65" "too many lanes"
            Expect.equal (refusal { RunSettings.none with BatchSize = Some 0 }) "--batch-size: must be between 1 and 60000, was 0" "an empty batch"
            Expect.equal (refusal { RunSettings.none with BatchSize = Some 60001 }) "--batch-size: must be between 1 and 60000, was 60001" "a batch larger than the training set"
            Expect.equal (refusal { RunSettings.none with LearningRate = Some 0.0 }) "--lr: must be a positive number, was 0" "no learning rate"
            Expect.equal (refusal { RunSettings.none with LearningRate = Some -0.001 }) "--lr: must be a positive number, was -0.001" "a negative learning rate"
            Expect.equal (refusal { RunSettings.none with LearningRate = Some nan }) "--lr: must be a positive number, was NaN" "NaN"
            Expect.equal (refusal { RunSettings.none with LearningRate = Some infinity }) "--lr: must be a positive number, was Infinity" "infinity"
            // The largest seed a run derives: the last repeat's, plus measuring's offset of 7.
            Expect.isGreaterThan (MaxSeed + int64 (MaxRepeats - 1) + 7L) MaxSeed "derived seeds do not wrap round"
        }

        test "an unknown name or a missing file is refused" {
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> plan "task9" |> ignore)) "task9: no definition of that name" "name"
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> plan "/nowhere/x.json" |> ignore)) "/nowhere/x.json: no such definition file" "path"
        }

        test "run settings override epochs, seed, batch size and learning rate; a quick run trains at most two epochs" {
            let _, experiments = plan "task1"
            let e = experiments.Head
            Expect.equal (effectiveTraining { RunSettings.none with Epochs = Some 4; Seed = Some 9L } e |> fun t -> t.MaxEpochs, t.Seed) (4, 9L) "overrides"
            Expect.equal (effectiveTraining { RunSettings.none with Quick = true } e).MaxEpochs 2 "quick"
            let overridden = effectiveTraining { RunSettings.none with BatchSize = Some 128; LearningRate = Some 0.002 } e
            Expect.equal overridden { e.Training with BatchSize = 128; LearningRate = 0.002 } "--batch-size and --lr replace those two, nothing else"
            Expect.equal (effectiveTraining RunSettings.none e) e.Training "no overrides: the definition's"
        }
    
        test "models trained two at once give exactly the numbers they give one at a time, in definition order" {
            // task3 takes task1's best architecture (a dependency between lanes) and its best model
            // (a bestOf). Both runs give every model one libtorch thread, so the numbers must agree
            // to the bit; only the lanes differ.
            let _, experiments = plan "task3"
            let settings = { RunSettings.none with Quick = true; Repeats = Some 2 }
            let threads = TorchSharp.torch.get_num_threads ()
            let starts = Collections.Concurrent.ConcurrentBag<string * int>()
            // `run` raises each event on the lane that reached it.
            let onEvent =
                function
                | Started(job, _, _) -> starts.Add($"{job.Experiment}/{job.Model}", Threading.Thread.CurrentThread.ManagedThreadId)
                | _ -> ()
            let run lanes =
                starts.Clear()
                let outcomes = run onEvent Threading.CancellationToken.None JobStore.memory { settings with Lanes = Some lanes } (Map [ FashionMnistFiles, dataset.Value ]) experiments
                outcomes, starts |> Seq.map snd |> Seq.distinct |> Seq.length
            let oneAtATime, _ =
                Engine.setThreads 1
                try run 1 finally Engine.setThreads threads
            Engine.setThreads 2
            let twoAtOnce, threadsUsed = try run 2 finally Engine.setThreads threads
            Expect.equal threadsUsed 2 "the models trained on two threads"
            Expect.equal (twoAtOnce |> List.map _.Definition.Name) [ "task1"; "task3" ] "experiments in definition order"
            for a, b in List.zip oneAtATime twoAtOnce do
                for ra, rb in List.zip a.Repeats b.Repeats do
                    Expect.equal (rb |> List.map (fun m -> m.Spec.Name, m.Repeat)) (ra |> List.map (fun m -> m.Spec.Name, m.Repeat)) "models in definition order"
                    for ma, mb in List.zip ra rb do
                        let name = $"{a.Definition.Name}/{ma.Spec.Name} repeat {ma.Repeat}"
                        let losses (m: ModelOutcome) = m.Training.History |> List.map (fun e -> e.TrainReconstruction, e.TrainKl, e.ValidationReconstruction, e.ValidationKl)
                        Expect.equal (losses mb) (losses ma) $"{name}: every epoch's losses"
                        Expect.equal mb.Training.BestEpoch ma.Training.BestEpoch $"{name}: best epoch"
                        Expect.equal (mb.Test, mb.IwaeNll, mb.Probe, mb.GenerationDistance, mb.ActiveUnits) (ma.Test, ma.IwaeNll, ma.Probe, ma.GenerationDistance, ma.ActiveUnits) $"{name}: measurements"
                        Expect.isTrue (same mb.Generated ma.Generated && same mb.Reconstructions ma.Reconstructions) $"{name}: pictures"
                        Expect.equal mb.ReusedFrom ma.ReusedFrom $"{name}: reuse"
            let task1, task3 = List.head twoAtOnce, List.last twoAtOnce
            Expect.equal (task3.Models |> List.map _.ReusedFrom) [ Some("task1", task1.Best.Value.Spec.Name); None ] "task3's VAE is task1's best"
            let widths (a: Architecture) = a.Hidden, a.Latent
            Expect.equal (widths task3.Models.[1].Architecture) (widths task1.Best.Value.Architecture) "the autoencoder has task1's best architecture"
        }

        test "definition.json: every experiment of a run, as it ran (overrides applied), reads back as the same definition" {
            let _, experiments = plan "seed-study"
            let settings = { RunSettings.none with Epochs = Some 3; Seed = Some 9L; Repeats = Some 2; BatchSize = Some 128; LearningRate = Some 0.002 }
            let folder = temporaryDirectory ()
            RunRecord.write folder "seed-study" RunRecord.Complete settings None experiments 2 1 DateTime.UtcNow None
            use document = Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunRecord.DefinitionFile)))
            let written = [ for e in document.RootElement.GetProperty("experiments").EnumerateArray() -> e.GetRawText() ]
            Expect.hasLength written experiments.Length "one entry per experiment"
            for e, json in List.zip experiments written do
                let expected =
                    { e with
                        Training = effectiveTraining settings e
                        Analysis = effectiveAnalysis settings e
                        Repeats = effectiveRepeats settings e }
                match parse "definition.json" json with
                | Experiment read -> Expect.equal read expected $"{e.Name} reads back as it ran"
                | Study _ -> failtest "an experiment"
            Expect.isEmpty (Directory.GetFiles(folder, "*.tmp")) "no temporary file left"
            // `resume` reads the run back from definition.json, with the overrides it ran with.
            let _, resumed = planOfRun (Path.Combine(folder, RunRecord.DefinitionFile))
            Expect.equal [ for e in resumed -> e.Training.BatchSize, e.Training.LearningRate ] [ for _ in experiments -> 128, 0.002 ] "read back with --batch-size and --lr"
            Expect.isFalse ((File.ReadAllText(Path.Combine(folder, RunRecord.DefinitionFile))).Contains "$schema") "a run's definition.json names no schema"
        }
    ]
