/// The definitions' JSON Schema (experiments/definition.schema.json) against the parser it describes
/// (Experiments.parse): the properties each object takes, and what one refuses the other refuses.
module Vae.Tests.SchemaTests

open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open Json.Schema
open Vae.Core
open Vae.Core.Experiments

let private schemaFile = lazy (Path.Combine(List.head (searchDirectories ()), SchemaFile))

let private schema = lazy (JsonSchema.FromFile schemaFile.Value)

/// The schema's errors for `json`, read as the runner reads a definition (comments and trailing
/// commas allowed); empty when it is valid.
let private schemaErrors (json: string) : string list =
    use document = JsonDocument.Parse(json, JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true))
    let result = schema.Value.Evaluate(document.RootElement, EvaluationOptions(OutputFormat = OutputFormat.List))
    if result.IsValid then []
    else
        [ for detail in result.Details do
              if not (isNull detail.Errors) then
                  for KeyValue(keyword, message) in detail.Errors -> $"{detail.InstanceLocation}: {keyword}: {message}" ]
        |> function
            | [] -> [ "invalid" ]
            | errors -> errors

/// The parser's refusal of `json`, or None.
let private parserError (json: string) =
    try
        parse "d.json" json |> ignore
        None
    with :? InvalidInputException as e -> Some e.Message

/// Rules of the parser that JSON Schema cannot state, by their name in `ExperimentsTests.rules`.
let private inexpressible =
    set [ "not JSON" // no document to judge
          "unique model names" // uniqueItems compares whole models, not their names
          "a key appears once"; "the root's keys appear once"; "a model's keys appear once" ] // a JSON reader keeps one of the copies

/// A property the parser does not know, added to the object at `path` of `json` (a valid definition).
let private allowedAt (json: string) (edit: JsonNode -> unit) =
    let node = JsonNode.Parse json
    edit node
    match parserError (node.ToJsonString()) with
    | Some message when message.Contains "allowed here: " ->
        let list = message.Substring(message.IndexOf "allowed here: " + "allowed here: ".Length).TrimEnd(')')
        list.Split(", ") |> Set.ofArray
    | other -> failtest $"the parser refuses the unknown property with its list of allowed ones, said {other}"

/// The `properties` of the schema's object at `pointer` (e.g. "/$defs/data").
let private schemaProperties (pointer: string) =
    let node = JsonNode.Parse(File.ReadAllText schemaFile.Value)
    let target = pointer.Split('/', System.StringSplitOptions.RemoveEmptyEntries) |> Array.fold (fun (n: JsonNode) key -> n[key]) node
    [ for kv in target["properties"].AsObject() -> kv.Key ] |> Set.ofList

let private withData (json: string) =
    json.Replace("\"data\": { \"validationSize\": 5000, \"splitSeed\": 42 }",
                 "\"data\": { \"folder\": \"shapes\", \"classes\": [\"bars\", \"blocks\", \"dots\"], \"interpolate\": [\"bars\", 2], \"validationSize\": 60, \"splitSeed\": 42 }")

/// Definitions both accept.
let private accepted =
    let valid = ExperimentsTests.valid
    [ "the tests' definition", valid
      "with $schema", valid.Replace("\"name\": \"t\"", "\"$schema\": \"definition.schema.json\", \"name\": \"t\"")
      "a study", """{ "$schema": "definition.schema.json", "name": "s", "description": "d", "repeats": 3, "experiments": ["a", "b"] }"""
      "a study whose settings are null", """{ "name": "s", "experiments": ["a"], "models": null, "data": null, "training": null, "analysis": null }"""
      "nulls as absent", valid.Replace("\"patience\": 2", "\"patience\": null").Replace("\"name\": \"t\"", "\"name\": \"t\", \"description\": null, \"analysis\": null, \"experiments\": null")
      "an IDX folder with classes and interpolation", withData valid
      "analysis", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"analysis\": { \"iwaeSamples\": 100000, \"iwaeImages\": 10000 }")
      "every kind of model",
      valid.Replace(
          """[ { "name": "a", "kind": "vae", "hidden": [400], "latent": 20 } ]""",
          """[ { "name": "a", "kind": "vae", "conv": [32, 64], "hidden": [256], "latent": 20, "beta": 0.5 },
               { "name": "b", "kind": "ae", "hidden": [], "latent": 2 },
               { "name": "c", "kind": "ae", "architectureOf": "task1", "conv": null },
               { "name": "d", "bestOf": "task1", "kind": null } ]""")
      "comments and a trailing comma", valid.Replace("\"name\": \"t\",", "// a comment\n \"name\": \"t\",").Replace("\"seed\": 1 }", "\"seed\": 1, }") ]

/// Definitions both refuse, beyond `ExperimentsTests.rules`.
let private refused =
    let valid = ExperimentsTests.valid
    let model (text: string) = valid.Replace("""{ "name": "a", "kind": "vae", "hidden": [400], "latent": 20 }""", text)
    [ "an unknown property", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"lr\": 0.01")
      "kind xyz", valid.Replace("\"kind\": \"vae\"", "\"kind\": \"xyz\"")
      "a negative latent size", valid.Replace("\"latent\": 20", "\"latent\": -3")
      "beta 0", valid.Replace("\"latent\": 20", "\"latent\": 20, \"beta\": 0")
      "$schema a number", valid.Replace("\"name\": \"t\"", "\"$schema\": 2020, \"name\": \"t\"")
      "$schema an object", valid.Replace("\"name\": \"t\"", "\"$schema\": { \"type\": \"object\" }, \"name\": \"t\"")
      "an unknown property of a model", valid.Replace("\"latent\": 20", "\"latent\": 20, \"dropout\": 0.5")
      "an unknown property of the training", valid.Replace("\"seed\": 1", "\"seed\": 1, \"momentum\": 0.9")
      "an unknown property of the analysis", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"analysis\": { \"iwaeK\": 5 }")
      "a batch of 60,001", valid.Replace("\"batchSize\": 64", "\"batchSize\": 60001")
      "17 convolutions", model """{ "name": "a", "kind": "vae", "conv": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], "hidden": [4], "latent": 2 }"""
      "4,097 channels", model """{ "name": "a", "kind": "vae", "conv": [4097], "hidden": [4], "latent": 2 }"""
      "a model without a kind", model """{ "name": "a", "hidden": [4], "latent": 2 }"""
      "architectureOf without a kind", model """{ "name": "a", "architectureOf": "task1" }"""
      "a model without latent", model """{ "name": "a", "kind": "vae", "hidden": [4] }"""
      "a model of no object", model "7"
      "IWAE on 10,001 images", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"analysis\": { \"iwaeImages\": 10001 }")
      "data given as null", valid.Replace("\"data\": { \"validationSize\": 5000, \"splitSeed\": 42 }", "\"data\": null")
      "classes without a folder", valid.Replace("\"splitSeed\": 42", "\"splitSeed\": 42, \"classes\": [\"a\", \"b\"]")
      "a folder without classes", (withData valid).Replace("\"classes\": [\"bars\", \"blocks\", \"dots\"], \"interpolate\": [\"bars\", 2], ", "")
      "a folder of white space", (withData valid).Replace("\"folder\": \"shapes\"", "\"folder\": \"  \"")
      "a folder with a newline", (withData valid).Replace("\"folder\": \"shapes\"", "\"folder\": \"sha\\npes\"")
      "a folder ending in a newline", (withData valid).Replace("\"folder\": \"shapes\"", "\"folder\": \"shapes\\n\"")
      "a class name ending in a tab", (withData valid).Replace("\"dots\"", "\"dots\\t\"")
      "an experiment named with a final newline", """{ "name": "s", "experiments": ["task1\n"] }"""
      "one class", (withData valid).Replace("[\"bars\", \"blocks\", \"dots\"]", "[\"bars\"]").Replace("[\"bars\", 2]", "[\"bars\", 0]")
      "a class named twice", (withData valid).Replace("[\"bars\", \"blocks\", \"dots\"]", "[\"bars\", \"bars\", \"dots\"]")
      "a class name of 41 characters", (withData valid).Replace("\"dots\"", $"\"{System.String('d', 41)}\"")
      "interpolation from a class to itself", (withData valid).Replace("[\"bars\", 2]", "[2, 2]")
      "interpolation over three classes", (withData valid).Replace("[\"bars\", 2]", "[0, 1, 2]")
      "a study with a model", """{ "name": "s", "experiments": ["a"], "models": [ { "name": "a", "bestOf": "b" } ] }"""
      "a study with data", """{ "name": "s", "experiments": ["a"], "data": { "validationSize": 1, "splitSeed": 1 } }"""
      "a study's experiment named in capitals", """{ "name": "s", "experiments": ["Task1"] }"""
      "101 repeats", """{ "name": "s", "experiments": ["a"], "repeats": 101 }"""
      "a description that is a number", valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"description\": 5") ]

[<Tests>]
let tests =
    testList "Schema" [
        test "the schema is a valid JSON Schema (draft 2020-12)" {
            use document = JsonDocument.Parse(File.ReadAllText schemaFile.Value)
            Expect.equal (document.RootElement.GetProperty("$schema").GetString()) "https://json-schema.org/draft/2020-12/schema" "draft 2020-12"
            let result = MetaSchemas.Draft202012.Evaluate(document.RootElement, EvaluationOptions(OutputFormat = OutputFormat.List))
            Expect.isTrue result.IsValid "valid against the draft's meta-schema"
        }

        test "every shipped definition names the schema and is valid against it" {
            let shipped = shipped ()
            Expect.hasLength shipped 5 "five definitions (the schema itself is none)"
            for file, definition in shipped do
                Expect.isOk definition $"{file} parses"
                let json = File.ReadAllText file
                Expect.isEmpty (schemaErrors json) $"{Path.GetFileName file} is valid against the schema"
                use document = JsonDocument.Parse json
                Expect.equal (document.RootElement.GetProperty("$schema").GetString()) SchemaFile $"{Path.GetFileName file} names the schema beside it"
        }

        test "each object of a definition has the properties the parser allows, no more, no fewer" {
            let valid = ExperimentsTests.valid
            let unknown (node: JsonNode) = node.AsObject().Add("zzz", JsonValue.Create 1)
            let levels =
                [ "the root", "", allowedAt valid unknown
                  "data", "/$defs/data", allowedAt valid (fun d -> unknown d["data"])
                  "training", "/$defs/training", allowedAt valid (fun d -> unknown d["training"])
                  "analysis", "/$defs/analysis", allowedAt (valid.Replace("\"name\": \"t\"", "\"name\": \"t\", \"analysis\": {}")) (fun d -> unknown d["analysis"])
                  "a model", "/$defs/model", allowedAt valid (fun d -> unknown d["models"].[0]) ]
            for what, pointer, allowed in levels do
                Expect.equal (schemaProperties pointer) allowed $"{what}: the schema's properties are the parser's"
        }

        test "what the parser accepts, the schema accepts" {
            for name, json in accepted do
                Expect.equal (parserError json) None $"{name}: the parser accepts it"
                Expect.isEmpty (schemaErrors json) $"{name}: the schema accepts it"
        }

        test "what the parser refuses, the schema refuses: every rule it can state" {
            for name, json, _ in ExperimentsTests.rules do
                if not (inexpressible.Contains name) then
                    Expect.isNonEmpty (schemaErrors json) $"{name}: the schema refuses it as the parser does"
            for name, json in refused do
                Expect.isSome (parserError json) $"{name}: the parser refuses it"
                Expect.isNonEmpty (schemaErrors json) $"{name}: the schema refuses it"
        }
    ]
