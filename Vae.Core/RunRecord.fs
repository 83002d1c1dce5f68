/// What a run folder says about how it was made: `run.json` (status, overrides, command line, the
/// software and machine) and `definition.json` (every experiment as it ran, after references and
/// command-line overrides, in the definition format: each entry reads back as a definition).
module Vae.Core.RunRecord

open System
open System.IO
open System.Runtime.InteropServices
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open Vae.Core.Data
open Vae.Core.Experiments
open Vae.Core.RunPlan

/// The format written in `run.json`.
[<Literal>]
let Format = "vae-run/1"

/// A run's status: `Running` from the start (a run killed leaves it so, and holds no lock on its
/// folder any more), `Interrupted` (stopped by Ctrl-C or SIGTERM), `Complete` (results.json and the
/// report written), `Failed` (stopped by an error).
type Status =
    | Running
    | Interrupted
    | Complete
    | Failed

let private statuses = [ Running, "running"; Interrupted, "interrupted"; Complete, "complete"; Failed, "failed" ]

let private statusText status = statuses |> List.find (fst >> (=) status) |> snd

/// The commit of the git clone `start` is in, read from .git (no git process): None outside a clone.
let gitCommit (start: string) : string option =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let git = Path.Combine(dir.FullName, ".git")
            if Directory.Exists git then Some git
            elif File.Exists git then
                // A worktree: ".git" is a file "gitdir: <path>".
                let text = File.ReadAllText(git).Trim()
                if text.StartsWith "gitdir:" then Some(Path.GetFullPath(text.Substring(7).Trim(), dir.FullName)) else None
            else up dir.Parent
    let read (path: string) = if File.Exists path then Some(File.ReadAllText(path).Trim()) else None
    let isHash (text: string) = text.Length = 40 && text |> Seq.forall Uri.IsHexDigit
    try
        up (DirectoryInfo start)
        |> Option.bind (fun git ->
            match read (Path.Combine(git, "HEAD")) with
            | Some head when head.StartsWith "ref: " ->
                let name = head.Substring(5)
                // A worktree keeps its HEAD apart but its refs in the common folder.
                let common = read (Path.Combine(git, "commondir")) |> Option.map (fun c -> Path.GetFullPath(c, git)) |> Option.defaultValue git
                let packed () =
                    read (Path.Combine(common, "packed-refs"))
                    |> Option.bind (fun text ->
                        text.Split('\n')
                        |> Array.tryPick (fun line ->
                            match line.Split(' ') with
                            | [| hash; ref |] when ref = name && isHash hash -> Some hash
                            | _ -> None))
                read (Path.Combine(git, name))
                |> Option.orElse (read (Path.Combine(common, name)))
                |> Option.filter isHash
                |> Option.orElseWith packed
            | Some head when isHash head -> Some head
            | _ -> None)
    with :? IOException | :? UnauthorizedAccessException -> None

/// The software and machine a run was made with.
let environment (lanes: int) (threadsPerLane: int) : JsonObject =
    Engine.ensureLoaded ()
    let commit =
        gitCommit Environment.CurrentDirectory |> Option.orElse (gitCommit AppContext.BaseDirectory)
    JsonObject(
        [ Collections.Generic.KeyValuePair<string, JsonNode>("dotnet", JsonValue.Create RuntimeInformation.FrameworkDescription)
          Collections.Generic.KeyValuePair("torchSharp", JsonValue.Create(typeof<torch.Tensor>.Assembly.GetName().Version.ToString(3)))
          Collections.Generic.KeyValuePair("libtorch", JsonValue.Create torch.__version__)
          Collections.Generic.KeyValuePair("library", JsonValue.Create(typeof<Status>.Assembly.GetName().Version.ToString()))
          Collections.Generic.KeyValuePair("os", JsonValue.Create RuntimeInformation.OSDescription)
          Collections.Generic.KeyValuePair("processor", JsonValue.Create (Benchmark.machine ()).Processor)
          Collections.Generic.KeyValuePair("cores", JsonValue.Create Environment.ProcessorCount)
          Collections.Generic.KeyValuePair("lanes", JsonValue.Create lanes)
          Collections.Generic.KeyValuePair("threadsPerLane", JsonValue.Create threadsPerLane)
          Collections.Generic.KeyValuePair("gitCommit", (match commit with Some c -> JsonValue.Create c :> JsonNode | None -> null)) ])

let private node (value: 'a) : JsonNode = JsonValue.Create value

let private obj (pairs: (string * JsonNode) list) =
    JsonObject(pairs |> List.map (fun (k, v) -> Collections.Generic.KeyValuePair(k, v)))

/// `e` as it runs under `settings`, in the definition format (the training seed, epochs and repeats
/// after the command line's overrides; a folder's data set with its absolute path and classes).
let experimentJson (settings: RunSettings) (e: ExperimentDefinition) : JsonObject =
    let t = effectiveTraining settings e
    let a = effectiveAnalysis settings e
    let data =
        [ match e.Data.Source with
          | FashionMnistFiles -> ()
          | IdxFolder f ->
              "folder", node f.Folder
              "classes", (JsonArray(f.Classes |> List.map node |> Array.ofList) :> JsonNode)
              "interpolate", (JsonArray([| node (fst f.Interpolation); node (snd f.Interpolation) |]) :> JsonNode)
          "validationSize", node e.Data.ValidationSize
          "splitSeed", node e.Data.SplitSeed ]
    let model (m: ModelSpec) =
        obj
            [ "name", node m.Name
              match m.Source with
              | Widths design ->
                  "kind", node (ModelKind.key design.Kind)
                  if not design.Conv.IsEmpty then "conv", (JsonArray(design.Conv |> List.map node |> Array.ofList) :> JsonNode)
                  "hidden", (JsonArray(design.Hidden |> List.map node |> Array.ofList) :> JsonNode)
                  "latent", node design.Latent
                  if design.Beta <> 1.0 then "beta", node design.Beta
              | ArchitectureOf(kind, other) ->
                  "kind", node (ModelKind.key kind)
                  "architectureOf", node other
              | BestOf other -> "bestOf", node other ]
    obj
        [ "name", node e.Name
          "description", node e.Description
          "data", (obj data :> JsonNode)
          "training",
          (obj
              [ "maxEpochs", node t.MaxEpochs
                "batchSize", node t.BatchSize
                "learningRate", node t.LearningRate
                match t.Patience with
                | Some p -> "patience", node p
                | None -> ()
                "seed", node t.Seed ]
           :> JsonNode)
          "analysis", (obj [ "iwaeSamples", node a.IwaeSamples; "iwaeImages", node a.IwaeImages ] :> JsonNode)
          "repeats", node (effectiveRepeats settings e)
          "models", (JsonArray(e.Models |> List.map (fun m -> model m :> JsonNode) |> Array.ofList) :> JsonNode) ]

let private options = JsonSerializerOptions(WriteIndented = true, Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)

/// Writes `text` and a newline to `stream` as UTF-8.
let private line (text: string) (stream: Stream) =
    let bytes = Text.Encoding.UTF8.GetBytes(text + "\n")
    stream.Write(bytes, 0, bytes.Length)

/// Writes `text` to `path` whole or not at all (`Safetensors.writeAtomically`: a temporary file, fsync, rename).
let private writeText (path: string) (text: string) = Safetensors.writeAtomically path (line text)

/// The file names in a run folder.
[<Literal>]
let RunFile = "run.json"

[<Literal>]
let DefinitionFile = "definition.json"

let private definitionText (name: string) (settings: RunSettings) (experiments: ExperimentDefinition list) : string =
    let definition =
        obj
            [ "name", node name
              "experiments", (JsonArray(experiments |> List.map (fun e -> experimentJson settings e :> JsonNode) |> Array.ofList) :> JsonNode) ]
    definition.ToJsonString options

let private runObject name status (settings: RunSettings) (dataDirectory: string option) (lanes: int) (threadsPerLane: int) (startedUtc: DateTime) (finishedUtc: DateTime option) (shards: int option) =
    let optional (value: 'a option) : JsonNode = match value with Some v -> node v | None -> null
    obj
        [ "format", node Format
          "name", node name
          "status", node (statusText status)
          "startedUtc", node (startedUtc.ToUniversalTime().ToString("o"))
          "finishedUtc", optional (finishedUtc |> Option.map (fun t -> t.ToUniversalTime().ToString("o")))
          "commandLine", (JsonArray(Environment.GetCommandLineArgs() |> Array.map node) :> JsonNode)
          "overrides",
          (obj
              [ "quick", node settings.Quick
                "epochs", optional settings.Epochs
                "seed", optional settings.Seed
                "repeats", optional settings.Repeats
                "batchSize", optional settings.BatchSize
                "learningRate", optional settings.LearningRate
                "lanes", optional settings.Lanes
                "data", optional dataDirectory ]
           :> JsonNode)
          "environment", (environment lanes threadsPerLane :> JsonNode)
          match shards with
          | Some n -> "shards", node n
          | None -> ()
          "resumed", JsonArray() ]

/// Writes `run.json` and `definition.json` into `folder` for the run `name` of `experiments` under
/// `settings` (Fashion-MNIST read from `dataDirectory` when given), with `status`.
let write
    (folder: string)
    (name: string)
    (status: Status)
    (settings: RunSettings)
    (dataDirectory: string option)
    (experiments: ExperimentDefinition list)
    (lanes: int)
    (threadsPerLane: int)
    (startedUtc: DateTime)
    (finishedUtc: DateTime option)
    : unit =
    let run = runObject name status settings dataDirectory lanes threadsPerLane startedUtc finishedUtc None
    writeText (Path.Combine(folder, RunFile)) (run.ToJsonString options)
    writeText (Path.Combine(folder, DefinitionFile)) (definitionText name settings experiments)

/// What `run.json` says a run is, as `resume` needs it.
type RunInfo =
    { Name: string
      Status: Status
      StartedUtc: DateTime
      /// Quick and lanes as the run was started (its epochs, seed, repeats, batch size and learning
      /// rate are in definition.json).
      Settings: RunSettings
      /// The Fashion-MNIST folder given to the run, if one was.
      DataDirectory: string option
      /// libtorch threads each lane had.
      ThreadsPerLane: int
      /// The number of shards of a sharded run (`Shards`).
      Shards: int option }

let private runJson (folder: string) : string * JsonObject =
    let path = Path.Combine(folder, RunFile)
    let fail problem = InvalidInput.about path problem
    if not (File.Exists path) then InvalidInput.about $"run folder {folder}" $"is not a run folder of this tool (it has no {RunFile})"
    let text =
        match InputFile.openRead path with
        | Error problem -> fail problem
        | Ok stream ->
            use stream = stream
            if stream.Length > 1_000_000L then fail "is larger than 1 MB: not a run record of this tool"
            use reader = new StreamReader(stream)
            reader.ReadToEnd()
    let node =
        try JsonNode.Parse(text, documentOptions = JsonDocumentOptions(AllowDuplicateProperties = false))
        with :? JsonException as e -> fail $"is not JSON ({Text.oneLine e.Message})"
    match node with
    | :? JsonObject as o -> path, o
    | _ -> fail "is not a JSON object"

/// Reads `folder`'s `run.json`: refuses, naming the file and field, a folder without one, another
/// format, and a field of the wrong type.
let read (folder: string) : RunInfo =
    let path, o = runJson folder
    let fail field problem = InvalidInput.raise path field problem
    let value (field: string) (parent: JsonObject) (location: string) : JsonNode =
        if parent.ContainsKey field then parent[field] else fail location "is missing"
    let text field parent location =
        match value field parent location with
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> v.GetValue<string>()
        | _ -> fail location "must be a string"
    let optionalText field parent location =
        match value field parent location with
        | null -> None
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> Some(v.GetValue<string>())
        | _ -> fail location "must be a string or null"
    let whole field parent location (minimum: int) =
        match value field parent location with
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.Number ->
            match v.TryGetValue<int>() with
            | true, n when n >= minimum -> n
            | _ -> fail location $"must be a whole number of at least {minimum}"
        | _ -> fail location $"must be a whole number of at least {minimum}"
    let child field parent location =
        match value field parent location with
        | :? JsonObject as c -> c
        | _ -> fail location "must be an object"
    let format = text "format" o "format"
    if format <> Format then fail "format" $"is {Text.quote format}, expected \"{Format}\": not a run of this version of the tool"
    let status =
        let t = text "status" o "status"
        match statuses |> List.tryFind (snd >> (=) t) with
        | Some(s, _) -> s
        | None ->
            let known = String.Join(", ", statuses |> List.map snd)
            fail "status" $"is {Text.quote t}, expected one of {known}"
    let started =
        let t = text "startedUtc" o "startedUtc"
        match DateTime.TryParse(t, Globalization.CultureInfo.InvariantCulture, Globalization.DateTimeStyles.RoundtripKind) with
        | true, d -> d.ToUniversalTime()
        | _ -> fail "startedUtc" $"is not a time: {Text.quote t}"
    let overrides = child "overrides" o "overrides"
    let quick =
        match value "quick" overrides "overrides.quick" with
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.True -> true
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.False -> false
        | _ -> fail "overrides.quick" "must be true or false"
    let environment = child "environment" o "environment"
    { Name = text "name" o "name"
      Status = status
      StartedUtc = started
      Settings = { RunSettings.none with Quick = quick; Lanes = Some(whole "lanes" environment "environment.lanes" 1) }
      DataDirectory = optionalText "data" overrides "overrides.data"
      ThreadsPerLane = whole "threadsPerLane" environment "environment.threadsPerLane" 1
      Shards =
        if not (o.ContainsKey "shards") || isNull o["shards"] then None
        else Some(whole "shards" o "shards" 1) }

let private update (folder: string) (change: JsonObject -> unit) =
    let path, o = runJson folder
    change o
    writeText path (o.ToJsonString options)

/// Sets `run.json`'s status (and, for a complete run, its finishing time).
let setStatus (folder: string) (status: Status) (finishedUtc: DateTime option) =
    update folder (fun o ->
        o["status"] <- node (statusText status)
        o["finishedUtc"] <- (match finishedUtc with Some t -> node (t.ToUniversalTime().ToString("o")) | None -> null))

/// Records in `run.json` that the run is resumed now, by this command line with this software and
/// machine (`resumed`, one entry per resume), and sets its status to running.
let setResumed (folder: string) (lanes: int) (threadsPerLane: int) =
    update folder (fun o ->
        let entry =
            obj
                [ "utc", node (DateTime.UtcNow.ToString("o"))
                  "commandLine", (JsonArray(Environment.GetCommandLineArgs() |> Array.map node) :> JsonNode)
                  "environment", (environment lanes threadsPerLane :> JsonNode) ]
        let resumed =
            match o["resumed"] with
            | :? JsonArray as a -> a
            | _ ->
                let a = JsonArray()
                o["resumed"] <- a
                a
        resumed.Add(entry :> JsonNode)
        o["status"] <- node (statusText Running))

/// Creates `path` with `text` unless a file is there already (`Safetensors.createAtomically`: of
/// several processes writing at once, exactly one creates it). False when the file was there.
let private createOnce (path: string) (text: string) : bool = Safetensors.createAtomically path (line text)

/// Joins the sharded run of `experiments` under `settings` over `shards` shards in `folder`: the
/// first shard there (or `slurm`/`k8s`, which prepare the folder) writes `definition.json` and
/// `run.json` (status running, `shards`), each created once whichever process comes first; the
/// others check that they are this run's: the same definition.json, word for word (the same
/// experiments after the command line's overrides), the same shard count and quick setting. Refuses
/// (naming the file) a folder holding another run, and a complete run.
let join
    (folder: string)
    (name: string)
    (settings: RunSettings)
    (dataDirectory: string option)
    (experiments: ExperimentDefinition list)
    (shards: int)
    (startedUtc: DateTime)
    : unit =
    let definitionPath = Path.Combine(folder, DefinitionFile)
    let definition = definitionText name settings experiments
    if not (createOnce definitionPath definition) then
        let existing = File.ReadAllText(definitionPath).TrimEnd('\n')
        if existing <> definition then
            InvalidInput.about definitionPath "describes another run (other experiments, or other --epochs, --seed, --repeats, --batch-size, --lr): give the same definition and options to every shard, or another folder"
    let runPath = Path.Combine(folder, RunFile)
    let run = runObject name Running settings dataDirectory shards 1 startedUtc None (Some shards)
    if not (createOnce runPath (run.ToJsonString options)) then
        let info = read folder
        match info.Shards with
        | None -> InvalidInput.about runPath "holds a run that is not sharded: continue it with resume, or give another folder"
        | Some n when n <> shards -> InvalidInput.about runPath $"holds a run sharded over {n}, not {shards}: give the same shard count to every shard"
        | Some _ when info.Settings.Quick <> settings.Quick ->
            InvalidInput.about runPath $"holds a run with quick {info.Settings.Quick}, not {settings.Quick}: give the same options to every shard"
        | Some _ when info.Status = Complete -> InvalidInput.about runPath "holds a complete run: its shards have all finished and it is merged"
        | Some _ -> ()

/// Writes shard `index`'s (0-based) record, `shards/<index + 1>/shard.json` (`RunFolder.shardFolder`):
/// its status, stage (None: all), lanes, data folder, times and command line. Only that shard's
/// process writes it.
let writeShard (folder: string) (shardFolder: string) (index: int) (status: Status) (stage: int option) (lanes: int) (dataDirectory: string option) (startedUtc: DateTime) (finishedUtc: DateTime option) =
    let optional (value: 'a option) : JsonNode = match value with Some v -> node v | None -> null
    let record =
        obj
            [ "shard", node (index + 1)
              "status", node (statusText status)
              "stage", optional stage
              "host", node Environment.MachineName
              "processId", node Environment.ProcessId
              "startedUtc", node (startedUtc.ToUniversalTime().ToString("o"))
              "finishedUtc", optional (finishedUtc |> Option.map (fun t -> t.ToUniversalTime().ToString("o")))
              "commandLine", (JsonArray(Environment.GetCommandLineArgs() |> Array.map node) :> JsonNode)
              "data", optional dataDirectory
              "environment", (environment lanes 1 :> JsonNode) ]
    writeText (Path.Combine(folder, shardFolder, "shard.json")) (record.ToJsonString options)
