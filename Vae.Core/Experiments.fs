/// Experiments as data: declarative definitions read from JSON and validated before any training,
/// and the experiments a run of one needs (`plan`). RunPlan.fs turns them into jobs, Execution.fs
/// runs the jobs into the outcomes of Outcomes.fs.
module Vae.Core.Experiments

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open TorchSharp
open Vae.Core.Data
open Vae.Core.Text
open Vae.Core.Training

/// Where a model's architecture comes from.
type ModelSource =
    /// Explicit layers: convolutions, hidden widths (input side first), latent size, and β.
    | Widths of Design
    /// The architecture of another experiment's best VAE (lowest validation loss), trained anew as `kind`.
    | ArchitectureOf of kind: ModelKind * experiment: string
    /// Another experiment's best model itself, as trained there (for comparison, no training).
    | BestOf of experiment: string

/// One model of an experiment.
type ModelSpec = { Name: string; Source: ModelSource }

/// The data an experiment trains on, and how its training set is split.
type DataSettings = { ValidationSize: int; SplitSeed: int64; Source: DataSource }

/// How trained models are measured beyond their losses.
type AnalysisSettings =
    { /// Importance samples per image for the IWAE estimate of log p(x).
      IwaeSamples: int
      /// Test images (the first ones) the IWAE estimate averages over.
      IwaeImages: int }

module AnalysisSettings =
    /// k = 1,000 samples on 1,000 test images.
    let defaults = { IwaeSamples = 1000; IwaeImages = 1000 }

/// An experiment: models trained under the same data and training settings, `Repeats` times
/// with different seeds.
type ExperimentDefinition =
    { Name: string
      Description: string
      Data: DataSettings
      Training: TrainingOptions
      Analysis: AnalysisSettings
      Repeats: int
      Models: ModelSpec list }

/// A definition file holds an experiment, or a study: several experiments run in order into one folder.
type Definition =
    | Experiment of ExperimentDefinition
    /// A study's `repeats`, when given, replaces each experiment's.
    | Study of name: string * description: string * experiments: string list * repeats: int option

    /// The definition's name.
    member d.Name =
        match d with
        | Experiment e -> e.Name
        | Study(name, _, _, _) -> name

    /// The definition's description.
    member d.Description =
        match d with
        | Experiment e -> e.Description
        | Study(_, description, _, _) -> description

/// Names: lower-case letters, digits and dashes (they become folder names). `\z`, not `$`: .NET's
/// `$` also matches before a final newline, and "a\n" passed as a name.
let private namePattern = Regex "^[a-z0-9][a-z0-9-]*\\z"

/// The longest name. Names become folder and file names: the run folder "<name>-<UTC time>",
/// "<experiment>/<model>/…" and "jobs/<experiment>/<model>/r<N>/…" inside; a
/// 300-character name failed with PathTooLongException once the run had trained. 64 leaves every
/// component far below the 255 bytes file systems allow, and is ample for a name a person reads.
[<Literal>]
let MaxNameLength = 64

/// The longest class name: pictures write class names under images and in legends.
[<Literal>]
let MaxClassNameLength = 40

/// The most models an experiment has. A run holds every trained model and its pictures until the
/// report is written (about 3 MB for the baseline VAE) and the report draws each one; 1,000 models
/// already take gigabytes and days of training. A file of 894,838 models was read as a definition
/// (and hung in a quadratic check) before definitions had limits.
[<Literal>]
let MaxModels = 1000

/// The most experiments a study lists (each may have `MaxModels` models).
[<Literal>]
let MaxExperiments = 100

/// The most hidden layers a model has: every layer is a few engine calls per batch and a few
/// tensors, and the seed study's deepest model has three.
[<Literal>]
let MaxHiddenLayers = 100

/// The largest definition file. Definitions are read whole before they are parsed; a larger file is
/// a mistake (or a device: `run /dev/zero` read until OutOfMemoryException at 3.9 GB). 1,000 models
/// take about 60 kB.
[<Literal>]
let MaxDefinitionBytes = 1_000_000

/// The largest seed, for training and for the split. A run derives seeds by adding to it (repeat r
/// trains with seed + r, r < MaxRepeats; training, evaluation and measuring add up to 7): 2⁶² − 1
/// leaves room for all of them below 2⁶³ − 1, where seed + 1 wrapped round to −2⁶³.
[<Literal>]
let MaxSeed = 4611686018427387903L

/// The most repeats of an experiment.
[<Literal>]
let MaxRepeats = 100

/// The largest batch: Fashion-MNIST's whole training set.
[<Literal>]
let MaxBatchSize = 60000

/// The most epochs an experiment trains.
[<Literal>]
let MaxEpochLimit = 100000

/// The top-level property naming the definition's JSON Schema (experiments/definition.schema.json)
/// for editors; the runner accepts it and ignores its value.
[<Literal>]
let SchemaProperty = "$schema"

/// The file name of the definitions' JSON Schema, beside them in experiments/; not a definition.
[<Literal>]
let SchemaFile = "definition.schema.json"

/// A number with thousands separators, as messages write counts ("52,428,800").
let private thousands (n: int64) = n.ToString("N0", Globalization.CultureInfo.InvariantCulture)

/// The first name equal to an earlier one, as (its index, the earlier one's). Names seen are kept
/// in a map: comparing each with all before it hung on a file of 894,838 models.
let private repeated (names: string list) : (int * int) option =
    let rec look (seen: Map<string, int>) i names =
        match names with
        | [] -> None
        | n :: rest ->
            match seen.TryFind n with
            | Some j -> Some(i, j)
            | None -> look (seen.Add(n, i)) (i + 1) rest
    look Map.empty 0 names

/// Reads a definition from JSON text; `file` names the source in errors.
let parse (file: string) (json: string) : Definition =
    let fail path rule = InvalidInput.raise file path rule
    let document =
        try JsonDocument.Parse(json, JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true))
        with :? JsonException as e -> fail "" $"not valid JSON ({e.Message})"
    use document = document
    let child (path: string) (name: string) = if path = "" then name else $"{path}.{name}"
    // A value as written in the file, for messages: one line (an object may span several), cut short.
    let raw (element: JsonElement) =
        let text = element.GetRawText()
        oneLine (if text.Length > QuotedLength then text.Substring(0, QuotedLength) + "…" else text)
    let properties path (allowed: string list) (element: JsonElement) =
        if element.ValueKind <> JsonValueKind.Object then fail path "must be an object"
        let present = [ for p in element.EnumerateObject() -> p.Name ]
        // JsonDocument keeps every copy of a key and TryGetProperty returns the last: a key written
        // twice would silently replace the first.
        match present |> List.countBy id |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(twice, n) -> fail (child path twice) (if n = 2 then "appears twice" else $"appears {n} times")
        | None -> ()
        match present |> List.tryFind (fun p -> not (List.contains p allowed)) with
        | Some unknown -> fail (child path unknown) $"""unknown property (allowed here: {String.Join(", ", allowed)})"""
        | None -> fun name -> match element.TryGetProperty(name: string) with | true, v when v.ValueKind <> JsonValueKind.Null -> Some v | _ -> None
    let required path name (get: string -> JsonElement option) =
        match get name with
        | Some v -> v
        | None -> fail (child path name) "is required"
    let integer path (minimum: int64) (maximum: int64) (element: JsonElement) =
        // TryGetInt64 throws on anything but a number: an object here gave InvalidOperationException.
        let value =
            if element.ValueKind <> JsonValueKind.Number then None
            else match element.TryGetInt64() with | true, v -> Some v | _ -> None
        match value with
        | Some v when v < minimum -> fail path $"must be at least {minimum}, was {v}"
        | Some v when v > maximum -> fail path $"must be at most {maximum}, was {v}"
        | Some v -> v
        | None -> fail path $"must be a whole number, was {raw element}"
    let text path (element: JsonElement) =
        if element.ValueKind <> JsonValueKind.String then fail path $"must be a string, was {raw element}"
        element.GetString()
    let name path element =
        let value = text path element
        if value.Length > MaxNameLength then
            fail path $"{quote value} is {value.Length} characters long; a name is at most {MaxNameLength} (it names folders and files of a run)"
        if not (namePattern.IsMatch value) then fail path $"{quote value} must be lower-case letters, digits and dashes"
        value
    let kind path element =
        let key = text path element
        match ModelKind.tryOfKey key with
        | Some kind -> kind
        | None -> fail path $"must be {ModelKind.keys ()}, was {quote key}"
    // An array of at most `maximum` items (counted before any is read).
    let array path (maximum: int) (what: string) (element: JsonElement) =
        if element.ValueKind <> JsonValueKind.Array then None
        else
            let n = element.GetArrayLength()
            if n > maximum then fail path $"has {thousands n} {what}; at most {thousands maximum}"
            Some [ for i, item in Seq.indexed (element.EnumerateArray()) -> i, item ]
    let root = document.RootElement
    let get = properties "" [ SchemaProperty; "name"; "description"; "data"; "training"; "analysis"; "repeats"; "models"; "experiments" ] root
    // Read by editors (the definition's JSON Schema), not by the runner; null is no string either.
    match root.TryGetProperty SchemaProperty with
    | true, v when v.ValueKind <> JsonValueKind.String -> fail SchemaProperty $"must be a string (the JSON Schema editors check the file against), was {raw v}"
    | _ -> ()
    let definitionName = required "" "name" get |> name "name"
    let description = get "description" |> Option.map (text "description") |> Option.defaultValue ""
    let repeats = get "repeats" |> Option.map (integer "repeats" 1L MaxRepeats >> int)
    match get "experiments", get "models" with
    | Some _, Some _ -> fail "experiments" "a study lists experiments and has no models of its own"
    | Some experiments, None ->
        for key in [ "data"; "training"; "analysis" ] do
            if (get key).IsSome then fail key "a study takes the settings of the experiments it lists"
        let names =
            match array "experiments" MaxExperiments "experiments" experiments with
            | Some((_ :: _) as items) -> [ for i, e in items -> name $"experiments[{i}]" e ]
            | _ -> fail "experiments" "must be a non-empty array of experiment names"
        // A name listed twice would run once, the second silently dropped.
        match repeated names with
        | Some(i, j) -> fail $"experiments[{i}]" $"{quote names.[i]} is already experiments[{j}]"
        | None -> ()
        Study(definitionName, description, names, repeats)
    | None, None -> fail "models" "is required (or \"experiments\", for a study)"
    | None, Some models ->
        let data =
            let d = required "" "data" get
            let g = properties "data" [ "folder"; "classes"; "interpolate"; "validationSize"; "splitSeed" ] d
            let source =
                match g "folder" with
                | None ->
                    for key in [ "classes"; "interpolate" ] do
                        if (g key).IsSome then fail $"data.{key}" "describes the data set of a folder: give data.folder too (Fashion-MNIST's classes are fixed)"
                    FashionMnistFiles
                | Some f ->
                    let folder = text "data.folder" f
                    if String.IsNullOrWhiteSpace folder then fail "data.folder" "must name a folder"
                    if folder |> Seq.exists Char.IsControl then fail "data.folder" $"{quote folder} must not hold control characters"
                    // Relative to the definition, so that a definition and its data move together.
                    let resolved = Path.GetFullPath(folder, Path.GetDirectoryName(Path.GetFullPath file))
                    let classes =
                        match required "data" "classes" g |> array "data.classes" MaxClasses "classes" with
                        | Some items when items.Length >= 2 ->
                            [ for i, c in items ->
                                  let path = $"data.classes[{i}]"
                                  let value = text path c
                                  if String.IsNullOrWhiteSpace value then fail path "must name the class, was empty"
                                  if value.Length > MaxClassNameLength then
                                      fail path $"{quote value} is {value.Length} characters long; a class name is at most {MaxClassNameLength} (pictures label classes with it)"
                                  if value |> Seq.exists Char.IsControl then fail path $"{quote value} must not hold control characters"
                                  value ]
                        | _ -> fail "data.classes" $"must be an array of 2 to {MaxClasses} class names, by label"
                    match repeated classes with
                    | Some(i, j) -> fail $"data.classes[{i}]" $"{quote classes.[i]} is already data.classes[{j}]"
                    | None -> ()
                    // A class by name or by label.
                    let classOf path (element: JsonElement) =
                        match element.ValueKind with
                        | JsonValueKind.String ->
                            match List.tryFindIndex ((=) (element.GetString())) classes with
                            | Some i -> i
                            | None -> fail path $"{quote (element.GetString())} is not one of data.classes"
                        | _ -> integer path 0L (int64 classes.Length - 1L) element |> int
                    let interpolation =
                        match g "interpolate" with
                        | None -> 0, classes.Length - 1
                        | Some i ->
                            match array "data.interpolate" 2 "classes" i with
                            | Some [ (_, a); (_, b) ] ->
                                let from, ``to`` = classOf "data.interpolate[0]" a, classOf "data.interpolate[1]" b
                                if from = ``to`` then fail "data.interpolate" $"walks from a class to itself ({quote classes.[from]}); name two classes"
                                from, ``to``
                            | _ -> fail "data.interpolate" "must be two classes to walk between, by name or label, e.g. [\"a\", \"b\"] or [0, 2]"
                    IdxFolder { Folder = resolved; Classes = classes; Interpolation = interpolation }
            // The bound the training set puts on it is checked by `plan`, which reads the data's size.
            { ValidationSize = required "data" "validationSize" g |> integer "data.validationSize" 1L (int64 Int32.MaxValue - 1L) |> int
              SplitSeed = required "data" "splitSeed" g |> integer "data.splitSeed" 0L MaxSeed
              Source = source }
        let training =
            let t = required "" "training" get
            let g = properties "training" [ "maxEpochs"; "batchSize"; "learningRate"; "patience"; "seed" ] t
            let learningRate =
                let v = required "training" "learningRate" g
                match v.ValueKind with
                | JsonValueKind.Number when v.GetDouble() > 0.0 && Double.IsFinite(v.GetDouble()) -> v.GetDouble()
                | _ -> fail "training.learningRate" $"must be a positive number, was {raw v}"
            { MaxEpochs = required "training" "maxEpochs" g |> integer "training.maxEpochs" 1L MaxEpochLimit |> int
              BatchSize = required "training" "batchSize" g |> integer "training.batchSize" 1L (int64 MaxBatchSize) |> int
              LearningRate = learningRate
              Patience = g "patience" |> Option.map (integer "training.patience" 1L 100000L >> int)
              Seed = required "training" "seed" g |> integer "training.seed" 0L MaxSeed }
        let analysis =
            match get "analysis" with
            | None -> AnalysisSettings.defaults
            | Some a ->
                let g = properties "analysis" [ "iwaeSamples"; "iwaeImages" ] a
                let d = AnalysisSettings.defaults
                { IwaeSamples = g "iwaeSamples" |> Option.map (integer "analysis.iwaeSamples" 1L 100000L >> int) |> Option.defaultValue d.IwaeSamples
                  IwaeImages = g "iwaeImages" |> Option.map (integer "analysis.iwaeImages" 1L 10000L >> int) |> Option.defaultValue d.IwaeImages }
        let items =
            match array "models" MaxModels "models" models with
            | None | Some [] -> fail "models" "must be a non-empty array"
            | Some items -> items
        let specs =
            [ for i, m in items ->
                  let path = $"models[{i}]"
                  let g = properties path [ "name"; "kind"; "conv"; "hidden"; "latent"; "beta"; "architectureOf"; "bestOf" ] m
                  let modelName = required path "name" g |> name $"{path}.name"
                  let layers = [ g "conv"; g "hidden"; g "latent"; g "beta" ] |> List.exists Option.isSome
                  let source =
                      match g "bestOf", g "architectureOf", layers with
                      | Some best, None, false ->
                          if (g "kind").IsSome then fail $"{path}.kind" "a bestOf model keeps the kind it was trained as"
                          BestOf(name $"{path}.bestOf" best)
                      | Some _, _, _ -> fail $"{path}.bestOf" "takes a trained model as it is: no architectureOf, conv, hidden, latent or beta beside it"
                      | None, Some other, false -> ArchitectureOf(required path "kind" g |> kind $"{path}.kind", name $"{path}.architectureOf" other)
                      | None, Some _, _ ->
                          fail $"{path}.architectureOf" "takes the layers (and β) of another experiment's best VAE: no conv, hidden, latent or beta beside it"
                      | None, None, _ ->
                          let hidden, latent = g "hidden", g "latent"
                          let k = required path "kind" g |> kind $"{path}.kind"
                          let h =
                              match hidden with
                              | None -> fail $"{path}.hidden" "is required (or architectureOf, or bestOf)"
                              | Some h ->
                                  match array $"{path}.hidden" MaxHiddenLayers "layers" h with
                                  | None -> fail $"{path}.hidden" "must be an array of widths"
                                  | Some widths -> [ for j, w in widths -> integer $"{path}.hidden[{j}]" 1L 100000L w |> int ]
                          let l =
                              match latent with
                              | None -> fail $"{path}.latent" "is required"
                              | Some l -> integer $"{path}.latent" 1L 100000L l |> int
                          // Whether the convolutions fit the images is checked by `plan`, which reads their size.
                          let c =
                              match g "conv" with
                              | None -> []
                              | Some c ->
                                  match array $"{path}.conv" Convolution.MaxLayers "convolutions" c with
                                  | None | Some [] -> fail $"{path}.conv" "must be a non-empty array of channel counts, e.g. [32, 64]"
                                  | Some channels -> [ for j, c in channels -> integer $"{path}.conv[{j}]" 1L 4096L c |> int ]
                          let beta =
                              match g "beta" with
                              | None -> 1.0
                              | Some v when not (ModelKind.hasPosterior k) ->
                                  fail $"{path}.beta" $"weights the KL term, which an autoencoder (kind \"{ModelKind.key k}\") does not have; was {raw v}"
                              | Some v ->
                                  match v.ValueKind with
                                  | JsonValueKind.Number when v.GetDouble() > 0.0 && Double.IsFinite(v.GetDouble()) -> v.GetDouble()
                                  | _ -> fail $"{path}.beta" $"must be a positive number, was {raw v}"
                          Widths { Kind = k; Conv = c; Hidden = h; Latent = l; Beta = beta }
                  { Name = modelName; Source = source } ]
        match repeated (specs |> List.map _.Name) with
        | Some(i, j) -> fail $"models[{i}].name" $"{quote specs.[i].Name} is already the name of models[{j}]"
        | None -> ()
        Experiment
            { Name = definitionName
              Description = description
              Data = data
              Training = training
              Analysis = analysis
              Repeats = defaultArg repeats 1
              Models = specs }

/// The shipped definitions this library carries (embedded resources "experiments/<name>.json"),
/// written out to a per-user folder of this library's version when missing or different there
/// (write aside, then rename: concurrent processes never see half a file). None when the folder
/// cannot be written.
let private embeddedDirectory =
    lazy (
        let assembly = Reflection.Assembly.GetExecutingAssembly()
        let version =
            match assembly.GetCustomAttributes(typeof<Reflection.AssemblyInformationalVersionAttribute>, false) with
            | [| :? Reflection.AssemblyInformationalVersionAttribute as v |] -> v.InformationalVersion.Split('+').[0]
            | _ -> "0"
        let dir = UserCache.folder [ "experiments"; version ]
        try
            Directory.CreateDirectory dir |> ignore
            for resource in assembly.GetManifestResourceNames() |> Array.filter (fun n -> n.StartsWith "experiments/") do
                use stream = assembly.GetManifestResourceStream resource
                use copy = new MemoryStream()
                stream.CopyTo copy
                let bytes = copy.ToArray()
                let target = Path.Combine(dir, resource.Substring "experiments/".Length)
                if not (File.Exists target && File.ReadAllBytes target = bytes) then
                    let temporary = $"{target}.{Environment.ProcessId}.tmp"
                    File.WriteAllBytes(temporary, bytes)
                    File.Move(temporary, target, true)
            Some dir
        with :? IOException | :? UnauthorizedAccessException -> None)

/// Where shipped definitions are looked for: the repository's experiments/ (walking up from the
/// working folder), then the program's own folder; when neither has one, the copies this library
/// carries (written out to ~/.cache/vae-dotnet/experiments/<version>).
let searchDirectories () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let candidate = Path.Combine(dir.FullName, "experiments")
            if Directory.Exists candidate then Some candidate else up dir.Parent
    match [ up (DirectoryInfo Environment.CurrentDirectory); up (DirectoryInfo AppContext.BaseDirectory) ] |> List.choose id |> List.distinct with
    | [] -> embeddedDirectory.Force() |> Option.toList
    | found -> found

/// Loads one definition file. At most `MaxDefinitionBytes` + 1 bytes are read, so a larger file
/// (or a device or pipe, whose length is not known) is refused without being read whole.
let loadFile (path: string) : Definition =
    let bytes =
        try
            use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read)
            use kept = new MemoryStream()
            let buffer = Array.zeroCreate<byte> 65536
            let rec copy () =
                let wanted = min buffer.Length (MaxDefinitionBytes + 1 - int kept.Length)
                if wanted > 0 then
                    match stream.Read(buffer, 0, wanted) with
                    | 0 -> ()
                    | n -> kept.Write(buffer, 0, n); copy ()
            copy ()
            if kept.Length > int64 MaxDefinitionBytes then
                // A regular file's length is known; a device's or pipe's is not (and /dev/zero's is 0).
                let size =
                    if stream.CanSeek && stream.Length > int64 MaxDefinitionBytes then $"{thousands stream.Length} bytes"
                    else $"more than {thousands MaxDefinitionBytes} bytes"
                InvalidInput.raise path "" $"is larger than 1 MB ({size}); a definition is at most 1 MB of JSON (1,000 models take about 60 kB)"
            kept.ToArray()
        with :? IOException | :? UnauthorizedAccessException as e -> InvalidInput.raise path "" $"cannot be read ({e.Message})"
    // As File.ReadAllText reads: UTF-8 unless a byte-order mark says otherwise.
    use reader = new StreamReader(new MemoryStream(bytes), Text.Encoding.UTF8, true)
    parse path (reader.ReadToEnd())

/// The shipped definitions: (file, definition or the error it raises), sorted by name.
let shipped () : (string * Result<Definition, string>) list =
    match searchDirectories () with
    | [] -> []
    | dir :: _ ->
        [ for file in Directory.GetFiles(dir, "*.json") |> Array.filter (fun f -> Path.GetFileName f <> SchemaFile) |> Array.sort ->
              file, (try Ok (loadFile file) with :? InvalidInputException as e -> Error e.Message) ]

/// Whether `nameOrPath` is a path (it ends in .json or contains a folder separator), not a name.
let private looksLikePath (nameOrPath: string) =
    nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || nameOrPath.Contains '/' || nameOrPath.Contains '\\'

/// Finds a definition by path (anything ending in .json or containing a folder separator) or by
/// name among the definitions beside `relativeTo` (a folder) or the shipped ones.
let resolve (relativeTo: string option) (nameOrPath: string) : string =
    if looksLikePath nameOrPath then
        if File.Exists nameOrPath then Path.GetFullPath nameOrPath
        else InvalidInput.raise nameOrPath "" "no such definition file"
    else
        let folders = (relativeTo |> Option.toList) @ searchDirectories ()
        match folders |> List.map (fun d -> Path.Combine(d, nameOrPath + ".json")) |> List.tryFind File.Exists with
        | Some file -> file
        | None ->
            let where = if folders.IsEmpty then "no experiments folder was found" else $"""looked in {String.Join("; ", folders)}"""
            InvalidInput.raise nameOrPath "" $"no definition of that name ({where})"

/// `definition`, found as `name` in `file`, unless its own name differs: a run finds experiments
/// by their names, and one whose name is not its file's was trained and then not found
/// (KeyNotFoundException) when another experiment took its best model.
let private foundAs (file: string) (name: string) (definition: Definition) =
    if definition.Name <> name then
        InvalidInput.raise file "name" $"is {quote definition.Name}, but the file is found as {quote name}; a definition's name must match its file name"
    definition

/// Whether an experiment certainly has a VAE, whose architecture another experiment can take
/// (architectureOf). A bestOf model does not count: whether it is a VAE is known only once its
/// source has trained, and the plan must refuse before training what could fail after it.
let private hasVae (e: ExperimentDefinition) =
    e.Models
    |> List.exists (fun m ->
        match m.Source with
        | Widths { Kind = kind }
        | ArchitectureOf(kind, _) -> ModelKind.hasPosterior kind
        | _ -> false)

/// A data source in words: "Fashion-MNIST" or "the IDX files of /data/shapes".
let private describe (source: DataSource) =
    match source with
    | FashionMnistFiles -> "Fashion-MNIST"
    | IdxFolder f -> $"the IDX files of {f.Folder}"

/// The experiments a run of `nameOrPath` trains, in order: a study's experiments, each preceded
/// by the experiments it refers to (architectureOf, bestOf) unless they already ran. Every file is
/// read and validated before anything trains: each experiment's data against its definition (the
/// training images' count and size, from the header of a folder's training images), and every
/// model against the memory this machine can give it (`Memory.check`).
let rec plan (nameOrPath: string) : Definition * ExperimentDefinition list =
    let file = resolve None nameOrPath
    let top = loadFile file
    let top = if looksLikePath nameOrPath then top else foundAs file nameOrPath top
    let folder = Some(Path.GetDirectoryName file)
    // Each definition is read once however many models refer to it (up to MaxModels each).
    let loaded = Collections.Generic.Dictionary<string, string * ExperimentDefinition>()
    let loadNamed (referrer: string) (path: string) (name: string) =
        match loaded.TryGetValue name with
        | true, found -> found
        | _ ->
            let f =
                try resolve folder name
                with :? InvalidInputException -> InvalidInput.raise referrer path $"refers to {quote name}, which is not a definition beside it or among the shipped ones"
            match loadFile f |> foundAs f name with
            | Experiment e ->
                loaded.[name] <- (f, e)
                f, e
            | Study _ -> InvalidInput.raise referrer path $"refers to {quote name}, a study; only an experiment has models"
    planFrom file top loadNamed

/// The experiments of the run recorded in `path` (a run folder's definition.json: the run's name
/// and every experiment as it ran, in order), validated as `plan` validates a definition.
and planOfRun (path: string) : Definition * ExperimentDefinition list =
    let text =
        match InputFile.openRead path with
        | Error problem -> InvalidInput.about path problem
        | Ok stream ->
            use stream = stream
            // Every experiment written out: larger than a definition, bounded all the same.
            if stream.Length > 16L * int64 MaxDefinitionBytes then InvalidInput.about path "is larger than 16 MB: not a run's definition"
            use reader = new StreamReader(stream)
            reader.ReadToEnd()
    use document =
        try JsonDocument.Parse(text, JsonDocumentOptions(AllowDuplicateProperties = false))
        with :? JsonException as e -> InvalidInput.raise path "" $"is not JSON ({Text.oneLine e.Message})"
    let root = document.RootElement
    let name =
        match root.ValueKind, root.TryGetProperty "name" with
        | JsonValueKind.Object, (true, n) when n.ValueKind = JsonValueKind.String -> n.GetString()
        | _ -> InvalidInput.raise path "name" "must be a string"
    let entries =
        match root.TryGetProperty "experiments" with
        | true, a when a.ValueKind = JsonValueKind.Array -> [ for e in a.EnumerateArray() -> e.GetRawText() ]
        | _ -> InvalidInput.raise path "experiments" "must be an array of experiments"
    if entries.IsEmpty then InvalidInput.raise path "experiments" "is empty"
    let experiments =
        entries
        |> List.mapi (fun i json ->
            match parse $"{path} experiments[{i}]" json with
            | Experiment e -> e
            | Study _ -> InvalidInput.raise path $"experiments[{i}]" "is a study; a run records experiments")
    match repeated (experiments |> List.map _.Name) with
    | Some(i, j) -> InvalidInput.raise path $"experiments[{i}]" $"{quote experiments.[i].Name} is already experiments[{j}]"
    | None -> ()
    let byName = experiments |> List.map (fun e -> e.Name, e) |> Map.ofList
    let loadNamed (referrer: string) (location: string) (other: string) =
        match byName.TryFind other with
        | Some e -> path, e
        | None -> InvalidInput.raise referrer location $"refers to {quote other}, which the run does not record"
    let top = Study(name, "", experiments |> List.map _.Name, None)
    planFrom path top (fun referrer location other -> loadNamed referrer location other)

and private planFrom (file: string) (top: Definition) (loadNamed: string -> string -> string -> string * ExperimentDefinition) : Definition * ExperimentDefinition list =
    let references (e: ExperimentDefinition) =
        e.Models
        |> List.indexed
        |> List.choose (fun (i, m) ->
            match m.Source with
            | ArchitectureOf(_, other) -> Some($"models[{i}].architectureOf", other, true)
            | BestOf other -> Some($"models[{i}].bestOf", other, false)
            | Widths _ -> None)
    // Each data set's training images (count, height, width), from its header, read once: a
    // folder that is missing or whose images are no images is refused here, naming the definition.
    let shapes = Collections.Generic.Dictionary<DataSource, int * int * int>()
    let shapeOf (file: string) (e: ExperimentDefinition) =
        match shapes.TryGetValue e.Data.Source with
        | true, shape -> shape
        | _ ->
            let shape =
                try DataSource.trainingShape e.Data.Source
                with :? InvalidInputException as error -> InvalidInput.raise file "data.folder" error.Message
            shapes.[e.Data.Source] <- shape
            shape
    let checkData (file: string) (e: ExperimentDefinition) =
        let count, _, _ = shapeOf file e
        validationSizeProblem count e.Data.ValidationSize |> Option.iter (InvalidInput.raise file "data.validationSize")
    let imageSize file e = let _, h, w = shapeOf file e in h, w
    // Models with their own widths; the others take a model or an architecture from an experiment
    // that is checked itself (an autoencoder with a VAE's widths needs less than the VAE). The
    // memory is read once, not once per model.
    let available = Memory.available ()
    let checkMemory (file: string) (e: ExperimentDefinition) =
        let height, width = imageSize file e
        for i, m in List.indexed e.Models do
            match m.Source with
            | Widths design ->
                let architecture =
                    match Architecture.tryOfDesign (height, width) design with
                    | Ok a -> a
                    | Error problem ->
                        // "conv: …" names the field at fault; the rest was checked when parsed.
                        let field, rule = match problem.IndexOf ": " with | -1 -> "", problem | k -> problem.[.. k - 1], problem.[k + 2 ..]
                        InvalidInput.raise file (if field = "" then $"models[{i}]" else $"models[{i}].{field}") rule
                match Memory.checkWithin available e.Training.BatchSize architecture with
                | Error message -> InvalidInput.raise file $"models[{i}]" message
                | Ok _ -> ()
            | ArchitectureOf _
            | BestOf _ -> ()
    // Depth-first: references first; `visiting` catches cycles.
    let rec add (visiting: string list) (ordered: ExperimentDefinition list) (referrer: string) (e: ExperimentDefinition) =
        if ordered |> List.exists (fun o -> o.Name = e.Name) then ordered
        else
            let ordered =
                references e
                |> List.fold
                    (fun acc (path, other, takesArchitecture) ->
                        if other = e.Name || List.contains other visiting then
                            let cycle = String.Join(" → ", List.rev (other :: e.Name :: visiting))
                            InvalidInput.raise referrer path $"refers to {quote other} in a cycle ({cycle})"
                        let file, definition = loadNamed referrer path other
                        // After the referenced experiment's own references: a cycle through them is the first fault.
                        let acc = add (e.Name :: visiting) acc file definition
                        if takesArchitecture && not (hasVae definition) then
                            let bestOfs = if definition.Models |> List.exists (fun m -> m.Source.IsBestOf) then "; a bestOf model does not count, its kind is known only once trained" else ""
                            InvalidInput.raise referrer path $"{quote other} has no VAE (its best VAE's architecture is taken{bestOfs})"
                        let size (h, w) = $"{h} × {w}"
                        if takesArchitecture && imageSize file definition <> imageSize referrer e then
                            InvalidInput.raise referrer path
                                $"{quote other} trains on {size (imageSize file definition)} images, this experiment on {size (imageSize referrer e)}; an architecture's input is its image size"
                        if not takesArchitecture && definition.Data.Source <> e.Data.Source then
                            InvalidInput.raise referrer path
                                $"{quote other} trains on other data ({describe definition.Data.Source}, this experiment {describe e.Data.Source}); a bestOf model is measured on the data it was trained on"
                        acc)
                    ordered
            checkData referrer e
            checkMemory referrer e
            ordered @ [ e ]
    let experiments =
        match top with
        | Experiment e -> add [] [] file e
        | Study(_, _, names, _) ->
            names |> List.indexed |> List.fold (fun acc (i, n) -> loadNamed file $"experiments[{i}]" n ||> add [] acc) []
    let models = experiments |> List.sumBy _.Models.Length
    if models > MaxModels then
        InvalidInput.raise file "" $"the run has {thousands models} models (counting the experiments it refers to); at most {thousands MaxModels}"
    match top with
    | Study(_, _, _, Some repeats) -> top, experiments |> List.map (fun e -> { e with Repeats = repeats })
    | _ -> top, experiments
