/// Experiments as data: declarative definitions read from JSON, validated before any training,
/// and run into outcomes that a report can draw.
module Vae.Core.Experiments

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open TorchSharp
open Vae.Core.FashionMnist
open Vae.Core.Training

/// `text` with the characters `alsoEscaped` accepts, control characters, and Unicode's line and
/// paragraph separators written as JSON escapes (\n, \", \u0007).
let private escapeWith (alsoEscaped: char -> bool) (text: string) =
    let needs (c: char) = Char.IsControl c || c = '\u2028' || c = '\u2029' || alsoEscaped c
    let escape (c: char) =
        match c with
        | '\n' -> "\\n"
        | '\r' -> "\\r"
        | '\t' -> "\\t"
        | '"' -> "\\\""
        | '\\' -> "\\\\"
        | c -> $"\\u{int c:x4}"
    if Seq.exists needs text then String.Concat(text |> Seq.map (fun c -> if needs c then escape c else string c)) else text

/// `text` on one line, its control characters written as JSON escapes: messages quote file names
/// and values from users, and a newline among them split a message in two.
let oneLine (text: string) = escapeWith (fun _ -> false) text

/// Characters of a user's value shown in a message; the rest is cut (a name may be 1 MB long).
[<Literal>]
let private QuotedLength = 80

/// A user's value in a message: in quotes, escaped as a JSON string would be (a quote, a backslash
/// or a newline inside is not mistaken for the message's own), cut after `QuotedLength` characters.
let quote (value: string) =
    let cut = if value.Length > QuotedLength && Char.IsHighSurrogate value.[QuotedLength - 1] then QuotedLength - 1 else QuotedLength
    let shown = if value.Length > cut then value.Substring(0, cut) + "…" else value
    "\"" + escapeWith (fun c -> c = '"' || c = '\\') shown + "\""

/// A definition is invalid; the message names the file, the JSON path and the rule broken, e.g.
/// "experiments/task2.json: models[2].latent: must be at least 1". It is one line (`oneLine`): the
/// file comes from the command line, and a rule may quote raw JSON.
type DefinitionException(file: string, path: string, rule: string) =
    inherit Exception(oneLine (if String.IsNullOrEmpty path then $"{file}: {rule}" else $"{file}: {path}: {rule}"))
    /// The definition file.
    member _.File = file
    /// The JSON path of the offending value ("" for the whole file).
    member _.JsonPath = path
    /// The rule broken.
    member _.Rule = rule

/// Where a model's architecture comes from.
type ModelSource =
    /// Explicit widths: hidden layers (input side first) and latent size.
    | Widths of kind: ModelKind * hidden: int list * latent: int
    /// The architecture of another experiment's best VAE (lowest validation loss), trained anew as `kind`.
    | ArchitectureOf of kind: ModelKind * experiment: string
    /// Another experiment's best model itself, as trained there (for comparison, no training).
    | BestOf of experiment: string

/// One model of an experiment.
type ModelSpec = { Name: string; Source: ModelSource }

/// How the training set is split.
type DataSettings = { ValidationSize: int; SplitSeed: int64 }

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

/// Names: lower-case letters, digits and dashes (they become folder names).
let private namePattern = Regex "^[a-z0-9][a-z0-9-]*$"

/// The longest name. Names become folder and file names: the run folder "<name>-<UTC time>", its
/// staging folder ".<that>.incomplete-<process id>" beside it, "<experiment>/<model>/…" inside; a
/// 300-character name failed with PathTooLongException once the run had trained. 64 leaves every
/// component far below the 255 bytes file systems allow, and is ample for a name a person reads.
[<Literal>]
let MaxNameLength = 64

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

/// The most epochs an experiment trains.
[<Literal>]
let MaxEpochLimit = 100000

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
    let fail path rule = raise (DefinitionException(file, path, rule))
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
        match text path element with
        | "vae" -> Vae
        | "ae" -> Autoencoder
        | other -> fail path $"must be \"vae\" or \"ae\", was {quote other}"
    // An array of at most `maximum` items (counted before any is read).
    let array path (maximum: int) (what: string) (element: JsonElement) =
        if element.ValueKind <> JsonValueKind.Array then None
        else
            let n = element.GetArrayLength()
            if n > maximum then fail path $"has {thousands n} {what}; at most {thousands maximum}"
            Some [ for i, item in Seq.indexed (element.EnumerateArray()) -> i, item ]
    let root = document.RootElement
    let get = properties "" [ "name"; "description"; "data"; "training"; "analysis"; "repeats"; "models"; "experiments" ] root
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
            let g = properties "data" [ "validationSize"; "splitSeed" ] d
            { ValidationSize = required "data" "validationSize" g |> integer "data.validationSize" 1L 59999L |> int
              SplitSeed = required "data" "splitSeed" g |> integer "data.splitSeed" 0L MaxSeed }
        let training =
            let t = required "" "training" get
            let g = properties "training" [ "maxEpochs"; "batchSize"; "learningRate"; "patience"; "seed" ] t
            let learningRate =
                let v = required "training" "learningRate" g
                match v.ValueKind with
                | JsonValueKind.Number when v.GetDouble() > 0.0 && Double.IsFinite(v.GetDouble()) -> v.GetDouble()
                | _ -> fail "training.learningRate" $"must be a positive number, was {raw v}"
            { MaxEpochs = required "training" "maxEpochs" g |> integer "training.maxEpochs" 1L MaxEpochLimit |> int
              BatchSize = required "training" "batchSize" g |> integer "training.batchSize" 1L 60000L |> int
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
                  let g = properties path [ "name"; "kind"; "hidden"; "latent"; "architectureOf"; "bestOf" ] m
                  let modelName = required path "name" g |> name $"{path}.name"
                  let source =
                      match g "bestOf", g "architectureOf", g "hidden", g "latent" with
                      | Some best, None, None, None ->
                          if (g "kind").IsSome then fail $"{path}.kind" "a bestOf model keeps the kind it was trained as"
                          BestOf(name $"{path}.bestOf" best)
                      | Some _, _, _, _ -> fail $"{path}.bestOf" "takes a trained model as it is: no architectureOf, hidden or latent beside it"
                      | None, Some other, None, None -> ArchitectureOf(required path "kind" g |> kind $"{path}.kind", name $"{path}.architectureOf" other)
                      | None, Some _, _, _ -> fail $"{path}.architectureOf" "takes the widths of another experiment's best VAE: no hidden or latent beside it"
                      | None, None, hidden, latent ->
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
                          Widths(k, h, l)
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

/// Where shipped definitions are looked for: the repository's experiments/ (walking up from the
/// working folder), then the program's own folder.
let searchDirectories () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let candidate = Path.Combine(dir.FullName, "experiments")
            if Directory.Exists candidate then Some candidate else up dir.Parent
    [ up (DirectoryInfo Environment.CurrentDirectory); up (DirectoryInfo AppContext.BaseDirectory) ]
    |> List.choose id
    |> List.distinct

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
                raise (DefinitionException(path, "", $"is larger than 1 MB ({size}); a definition is at most 1 MB of JSON (1,000 models take about 60 kB)"))
            kept.ToArray()
        with :? IOException | :? UnauthorizedAccessException as e -> raise (DefinitionException(path, "", $"cannot be read ({e.Message})"))
    // As File.ReadAllText reads: UTF-8 unless a byte-order mark says otherwise.
    use reader = new StreamReader(new MemoryStream(bytes), Text.Encoding.UTF8, true)
    parse path (reader.ReadToEnd())

/// The shipped definitions: (file, definition or the error it raises), sorted by name.
let shipped () : (string * Result<Definition, string>) list =
    match searchDirectories () with
    | [] -> []
    | dir :: _ ->
        [ for file in Directory.GetFiles(dir, "*.json") |> Array.sort ->
              file, (try Ok (loadFile file) with :? DefinitionException as e -> Error e.Message) ]

/// Whether `nameOrPath` is a path (it ends in .json or contains a folder separator), not a name.
let private looksLikePath (nameOrPath: string) =
    nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || nameOrPath.Contains '/' || nameOrPath.Contains '\\'

/// Finds a definition by path (anything ending in .json or containing a folder separator) or by
/// name among the definitions beside `relativeTo` (a folder) or the shipped ones.
let resolve (relativeTo: string option) (nameOrPath: string) : string =
    if looksLikePath nameOrPath then
        if File.Exists nameOrPath then Path.GetFullPath nameOrPath
        else raise (DefinitionException(nameOrPath, "", "no such definition file"))
    else
        let folders = (relativeTo |> Option.toList) @ searchDirectories ()
        match folders |> List.map (fun d -> Path.Combine(d, nameOrPath + ".json")) |> List.tryFind File.Exists with
        | Some file -> file
        | None ->
            let where = if folders.IsEmpty then "no experiments folder was found" else $"""looked in {String.Join("; ", folders)}"""
            raise (DefinitionException(nameOrPath, "", $"no definition of that name ({where})"))

/// `definition`, found as `name` in `file`, unless its own name differs: a run finds experiments
/// by their names, and one whose name is not its file's was trained and then not found
/// (KeyNotFoundException) when another experiment took its best model.
let private foundAs (file: string) (name: string) (definition: Definition) =
    if definition.Name <> name then
        raise (DefinitionException(file, "name", $"is {quote definition.Name}, but the file is found as {quote name}; a definition's name must match its file name"))
    definition

/// Whether an experiment certainly has a VAE, whose architecture another experiment can take
/// (architectureOf). A bestOf model does not count: whether it is a VAE is known only once its
/// source has trained, and the plan must refuse before training what could fail after it.
let private hasVae (e: ExperimentDefinition) =
    e.Models
    |> List.exists (fun m ->
        match m.Source with
        | Widths(Vae, _, _)
        | ArchitectureOf(Vae, _) -> true
        | _ -> false)

/// The experiments a run of `nameOrPath` trains, in order: a study's experiments, each preceded
/// by the experiments it refers to (architectureOf, bestOf) unless they already ran. Every file is
/// read and validated before anything trains, and every model is checked against the memory this
/// machine can give it (`Memory.check`).
let plan (nameOrPath: string) : Definition * ExperimentDefinition list =
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
                with :? DefinitionException -> raise (DefinitionException(referrer, path, $"refers to {quote name}, which is not a definition beside it or among the shipped ones"))
            match loadFile f |> foundAs f name with
            | Experiment e ->
                loaded.[name] <- (f, e)
                f, e
            | Study _ -> raise (DefinitionException(referrer, path, $"refers to {quote name}, a study; only an experiment has models"))
    let references (e: ExperimentDefinition) =
        e.Models
        |> List.indexed
        |> List.choose (fun (i, m) ->
            match m.Source with
            | ArchitectureOf(_, other) -> Some($"models[{i}].architectureOf", other, true)
            | BestOf other -> Some($"models[{i}].bestOf", other, false)
            | Widths _ -> None)
    // Models with their own widths; the others take a model or an architecture from an experiment
    // that is checked itself (an autoencoder with a VAE's widths needs less than the VAE). The
    // memory is read once, not once per model.
    let available = Memory.available ()
    let checkMemory (file: string) (e: ExperimentDefinition) =
        for i, m in List.indexed e.Models do
            match m.Source with
            | Widths(kind, hidden, latent) ->
                match Memory.checkWithin available e.Training.BatchSize (Architecture.create kind hidden latent) with
                | Error message -> raise (DefinitionException(file, $"models[{i}]", message))
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
                            raise (DefinitionException(referrer, path, $"refers to {quote other} in a cycle ({cycle})"))
                        let file, definition = loadNamed referrer path other
                        // After the referenced experiment's own references: a cycle through them is the first fault.
                        let acc = add (e.Name :: visiting) acc file definition
                        if takesArchitecture && not (hasVae definition) then
                            let bestOfs = if definition.Models |> List.exists (fun m -> m.Source.IsBestOf) then "; a bestOf model does not count, its kind is known only once trained" else ""
                            raise (DefinitionException(referrer, path, $"{quote other} has no VAE (its best VAE's architecture is taken{bestOfs})"))
                        acc)
                    ordered
            checkMemory referrer e
            ordered @ [ e ]
    let experiments =
        match top with
        | Experiment e -> add [] [] file e
        | Study(_, _, names, _) ->
            names |> List.indexed |> List.fold (fun acc (i, n) -> loadNamed file $"experiments[{i}]" n ||> add [] acc) []
    let models = experiments |> List.sumBy _.Models.Length
    if models > MaxModels then
        raise (DefinitionException(file, "", $"the run has {thousands models} models (counting the experiments it refers to); at most {thousands MaxModels}"))
    match top with
    | Study(_, _, _, Some repeats) -> top, experiments |> List.map (fun e -> { e with Repeats = repeats })
    | _ -> top, experiments

/// Settings of a run that override the definitions'.
type RunSettings =
    { /// Train on a small subset for one or two epochs, and measure on small subsets (a smoke test).
      Quick: bool
      /// Replaces every experiment's maximum epochs.
      Epochs: int option
      /// Replaces every experiment's training seed.
      Seed: int64 option
      /// Replaces every experiment's number of repeats.
      Repeats: int option
      /// Models trained at once (see `run`); None: `defaultLanes ()`.
      Lanes: int option }

module RunSettings =
    /// No overrides.
    let none = { Quick = false; Epochs = None; Seed = None; Repeats = None; Lanes = None }

    /// The settings, or the first override that breaks the bound a definition's value has (named
    /// as the command line spells it): a seed above `MaxSeed` would overflow in the seeds a run
    /// derives from it.
    let validate (settings: RunSettings) : Result<RunSettings, string> =
        let bounded name (minimum: int64) (maximum: int64) (value: int64 option) =
            match value with
            | Some v when v < minimum -> Some $"{name}: must be at least {minimum}, was {v}"
            | Some v when v > maximum -> Some $"{name}: must be at most {maximum}, was {v}"
            | _ -> None
        let between name (minimum: int64) (maximum: int64) (value: int64 option) =
            match value with
            | Some v when v < minimum || v > maximum -> Some $"{name}: must be between {minimum} and {maximum}, was {v}"
            | _ -> None
        let wide = Option.map int64
        [ bounded "--epochs" 1L MaxEpochLimit (wide settings.Epochs)
          bounded "--seed" 0L MaxSeed settings.Seed
          between "--repeats" 1L MaxRepeats (wide settings.Repeats)
          between "--lanes" 1L 64L (wide settings.Lanes) ]
        |> List.tryPick id
        |> function
            | Some message -> Error message
            | None -> Ok settings

/// Quick runs train on this many images, validate on this many, for at most two epochs.
[<Literal>]
let QuickTrainingImages = 2048

[<Literal>]
let QuickValidationImages = 512

/// Quick runs fit the probes on this many training images' codes.
[<Literal>]
let QuickProbeImages = 5000

/// The training options an experiment runs with under `settings`.
let effectiveTraining (settings: RunSettings) (e: ExperimentDefinition) : TrainingOptions =
    let t = e.Training
    let t = match settings.Epochs with Some n -> { t with MaxEpochs = n } | None -> t
    let t = match settings.Seed with Some s -> { t with Seed = s } | None -> t
    if settings.Quick then { t with MaxEpochs = min t.MaxEpochs 2 } else t

/// The number of repeats an experiment runs under `settings`.
let effectiveRepeats (settings: RunSettings) (e: ExperimentDefinition) = defaultArg settings.Repeats e.Repeats

/// The analysis an experiment runs under `settings`: a quick run estimates the IWAE bound with
/// 20 samples on 100 images.
let effectiveAnalysis (settings: RunSettings) (e: ExperimentDefinition) : AnalysisSettings =
    if settings.Quick then { IwaeSamples = min 20 e.Analysis.IwaeSamples; IwaeImages = min 100 e.Analysis.IwaeImages } else e.Analysis

/// Accuracy of classifiers fitted on codes: a linear probe and 5-nearest neighbours, and the same
/// on a PCA projection of the pixels to as many dimensions as the code has.
type ProbeScores = { Linear: float; Knn: float; PcaLinear: float; PcaKnn: float }

/// A trained (or reused) model with what a report needs of it.
type ModelOutcome =
    { Spec: ModelSpec
      Architecture: Architecture
      /// 0-based repeat.
      Repeat: int
      Training: TrainingResult
      Test: Evaluation.Evaluation
      /// IWAE negative log-likelihood estimate on the test images (VAEs only).
      IwaeNll: float option
      TrainingSeconds: float
      /// Set when the model was taken, trained, from another experiment: (experiment, model).
      ReusedFrom: (string * string) option
      /// Fréchet distance (Analysis.frechetDistance, the pixels' first 50 principal components)
      /// between the test images and 5,000 images generated from z ~ N(0, I).
      GenerationDistance: float
      /// The same for 5,000 images generated from a Gaussian fitted to the training codes.
      FittedGenerationDistance: float
      /// Per latent dimension, the variance over the test set of its posterior mean (or code).
      CodeVariance: float[]
      /// Latent dimensions whose code variance is above 0.01.
      ActiveUnits: int
      /// Mean KL divergence per latent dimension on the test set (zeros for an autoencoder).
      KlPerDimension: float[]
      Probe: ProbeScores
      /// Nine images from z ~ N(0, I) ([9; 784]).
      Generated: torch.Tensor
      /// Nine images from a Gaussian fitted (full covariance) to the training codes ([9; 784]).
      GeneratedFitted: torch.Tensor
      /// Reconstructions of the run's nine test images ([9; 784]).
      Reconstructions: torch.Tensor
      /// Ten images along the line between the codes of two test images of different classes.
      Interpolation: torch.Tensor
      /// Rows of nine images moving each of the two most active units from −3 to +3 standard deviations.
      Traversal: torch.Tensor
      /// The latent dimensions the traversal moves, most active first.
      TraversalDimensions: int list
      /// The test set's codes on their first two principal components ([10000; 2]).
      Latent2d: torch.Tensor }

/// A model whose training diverged (a NaN or infinite loss) in at least one repeat: it is not
/// measured and never best. Its repeats that did not diverge are listed too, trained but unmeasured.
type DivergedOutcome =
    { Spec: ModelSpec
      Architecture: Architecture
      /// Every repeat's training, in repeat order (0-based repeat, result).
      Trainings: (int * TrainingResult) list }

/// An experiment's outcome: every repeat of every model, and the best by mean validation loss.
type ExperimentOutcome =
    { Definition: ExperimentDefinition
      Training: TrainingOptions
      Analysis: AnalysisSettings
      StartedUtc: DateTime
      /// The nine test images every model reconstructs (one of each of the first nine classes).
      Originals: torch.Tensor
      /// The two test images interpolated between (a T-shirt/top and a sneaker).
      InterpolationEnds: torch.Tensor
      TestLabels: torch.Tensor
      /// Per repeat, every model that did not diverge, in definition order.
      Repeats: ModelOutcome list list
      /// The models that diverged in some repeat, in definition order.
      Diverged: DivergedOutcome list }

    /// The first repeat's models: the pictures are drawn from them.
    member o.Models = List.head o.Repeats

    /// Every repeat of the model named `name`.
    member o.RepeatsOf(name: string) = o.Repeats |> List.map (List.find (fun m -> m.Spec.Name = name))

    /// Mean over repeats of a model's best validation loss.
    member o.MeanValidationLoss(name: string) = o.RepeatsOf name |> List.averageBy (fun m -> m.Training.Best.ValidationLoss)

    /// The model with the lowest mean best-epoch validation loss; None when every model diverged.
    member o.Best =
        match o.Models with
        | [] -> None
        | models -> Some(models |> List.minBy (fun m -> o.MeanValidationLoss m.Spec.Name))

/// Progress callbacks of a run.
type RunHooks =
    { /// (experiment, model, repeat, model index within the repeat, model count) before a model trains.
      OnModelStart: string -> string -> int -> int -> int -> unit
      /// Training hooks for (experiment, model, repeat).
      Training: string -> string -> int -> TrainingHooks
      /// After a model is trained and measured.
      OnModelDone: string -> ModelOutcome -> unit
      /// (experiment, model, repeat, training) after a model's training diverged: it is not measured.
      OnModelDiverged: string -> ModelSpec -> int -> TrainingResult -> unit
      /// Stops the run: training checks it every batch, measurement between its steps.
      Cancellation: Threading.CancellationToken }

module RunHooks =
    /// No callbacks.
    let none =
        { OnModelStart = (fun _ _ _ _ _ -> ())
          Training = (fun _ _ _ -> TrainingHooks.none)
          OnModelDone = (fun _ _ -> ())
          OnModelDiverged = (fun _ _ _ _ -> ())
          Cancellation = Threading.CancellationToken.None }

/// What measuring needs besides the model: the data, the fixed test images, and the PCA yardstick
/// per code size (computed once per run).
type private Measuring =
    { Data: Dataset
      ProbeTrain: Split
      ProbeTest: Split
      Originals: torch.Tensor
      InterpolationEnds: torch.Tensor
      Pca: int -> float * float
      /// Fréchet distance of generated images to the test images.
      Frechet: torch.Tensor -> float
      /// Checked between the measurements' steps (each takes at most a few seconds).
      Cancellation: Threading.CancellationToken }

/// The probes' scores of a model from its codes of the probes' training and test images.
let private probeScores (m: Measuring) (model: Model) (trainCodes: torch.Tensor) (testCodes: torch.Tensor) =
    let pcaLinear, pcaKnn = m.Pca model.Architecture.Latent
    { Linear = Probes.linearAccuracy trainCodes m.ProbeTrain.Labels testCodes m.ProbeTest.Labels
      Knn = Probes.knnAccuracy 5 trainCodes m.ProbeTrain.Labels testCodes m.ProbeTest.Labels
      PcaLinear = pcaLinear
      PcaKnn = pcaKnn }

/// Images generated to measure the Fréchet distance (enough for a stable 50 × 50 covariance).
[<Literal>]
let GeneratedForDistance = 5000

/// Test-set measurements, samples and codes of a trained model.
let private measure (m: Measuring) (seed: int64) repeat spec architecture (training: TrainingResult) seconds reusedFrom =
    let model = training.Model
    let test = m.Data.Test
    use _ = torch.no_grad ()
    // Every temporary of the measurements is freed here, not when the garbage collector gets to it:
    // the collector does not see the engine's memory, and the run's peak memory grew with it.
    use scope = torch.NewDisposeScope()
    use generator = new torch.Generator(uint64 seed + 7UL)
    let step () = m.Cancellation.ThrowIfCancellationRequested()
    let generated = Model.generate generator 9 model
    use many = Model.generate generator GeneratedForDistance model
    step ()
    use trainCodes = Analysis.codes model m.ProbeTrain
    let fitted = Analysis.fitGaussian trainCodes
    let generatedFitted = Analysis.generateFitted generator 9 fitted model
    use manyFitted = Analysis.generateFitted generator GeneratedForDistance fitted model
    step ()
    use codes = Analysis.codes model test
    let variance = Analysis.codeVariance model test
    let traversed = variance |> Array.indexed |> Array.sortByDescending snd |> Array.truncate 2 |> Array.map fst |> List.ofArray
    let kept (t: torch.Tensor) = t.MoveToOuterDisposeScope()
    step ()
    let generationDistance = m.Frechet many
    let fittedGenerationDistance = m.Frechet manyFitted
    step ()
    let probe = probeScores m model trainCodes codes
    step ()
    { Spec = spec
      Architecture = architecture
      Repeat = repeat
      Training = training
      Test = Evaluation.evaluate (seed + 3L) model test
      // Estimated apart (`likelihood`): it takes longest and needs little memory.
      IwaeNll = None
      TrainingSeconds = seconds
      ReusedFrom = reusedFrom
      GenerationDistance = generationDistance
      FittedGenerationDistance = fittedGenerationDistance
      CodeVariance = variance
      ActiveUnits = Analysis.activeUnits variance
      KlPerDimension = Analysis.klPerDimension model test
      Probe = probe
      Generated = kept generated
      GeneratedFitted = kept generatedFitted
      Reconstructions = kept (Model.reconstruct model m.Originals)
      Interpolation = kept (Analysis.interpolate 10 model m.InterpolationEnds.[0L] m.InterpolationEnds.[1L])
      Traversal = kept (Analysis.traverse 9 traversed model test)
      TraversalDimensions = traversed
      Latent2d = kept (Analysis.principalComponents 2 codes) }

/// Where a model of a run is: experiment (index in the run), repeat, model (index in the experiment).
type private Slot = { Experiment: int; Repeat: int; Model: int }

/// Models trained at once by `run` unless the settings say otherwise: 2 when libtorch has at
/// least 2 threads (each model then gets half of them), else 1.
let defaultLanes () =
    Engine.ensureLoaded ()
    if torch.get_num_threads () >= 2 then 2 else 1

/// The IWAE estimate of a VAE's negative log-likelihood on the first test images (None for an
/// autoencoder): `measure`'s `IwaeNll`.
let private likelihood (m: Measuring) (analysis: AnalysisSettings) (seed: int64) (model: Model) =
    match model.Architecture.Kind with
    | Vae ->
        let test = m.Data.Test
        Some(Likelihood.iwaeNllCancellable m.Cancellation (seed + 5L) analysis.IwaeSamples model (test.Images.narrow(0L, 0L, int64 (min analysis.IwaeImages test.Count))))
    | Autoencoder -> None

/// The lanes a run under `settings` trains on.
let effectiveLanes (settings: RunSettings) = settings.Lanes |> Option.defaultWith defaultLanes

/// Trains and measures every model of every experiment in every repeat (repeat r trains with
/// seed + r), several models at once (`settings.Lanes`, see `Lanes`; one model is measured
/// at a time): a model that takes another experiment's best architecture trains once every model
/// of that experiment has trained. Each model trains and is measured on one lane with its share of
/// the threads, so its numbers do not depend on which lane took it or when. Outcomes are in
/// definition order, each experiment seeing those before it.
let run (hooks: RunHooks) (settings: RunSettings) (data: Dataset) (experiments: ExperimentDefinition list) : ExperimentOutcome list =
    let experiments = Array.ofList experiments
    let indexOf name = experiments |> Array.findIndex (fun e -> e.Name = name)
    let repeatsOf ei = effectiveRepeats settings experiments.[ei]
    let probeTrain = if settings.Quick then take QuickProbeImages data.Train else data.Train
    let probeTest = data.Test
    let originals = Analysis.oneImagePerClass 9 data.Test
    // The PCA yardstick depends only on the data and the code size: fitted once, scored once per size.
    // Fitted on first use, which is inside a model's measurement: detached from that dispose scope.
    let pcaFit =
        lazy (
            let directions, mean = Probes.pcaFit FashionMnist.Pixels probeTrain.Images
            directions.DetachFromDisposeScope(), mean.DetachFromDisposeScope())
    let pcaScores = Collections.Concurrent.ConcurrentDictionary<int, Lazy<float * float>>()
    let pca latent =
        let score () =
            let directions, mean = pcaFit.Value
            let leading = directions.narrow(1L, 0L, int64 latent), mean
            use trainX = Probes.pcaProject leading probeTrain.Images
            use testX = Probes.pcaProject leading probeTest.Images
            Probes.linearAccuracy trainX probeTrain.Labels testX probeTest.Labels,
            Probes.knnAccuracy 5 trainX probeTrain.Labels testX probeTest.Labels
        pcaScores.GetOrAdd(latent, fun _ -> lazy (score ())).Value
    let measuring =
        { Data = data
          ProbeTrain = probeTrain
          ProbeTest = probeTest
          Originals = originals
          InterpolationEnds = torch.stack([| originals.[0L]; originals.[7L] |], 0L)
          Pca = pca
          Frechet =
            fun generated ->
                let directions, mean = pcaFit.Value
                Analysis.frechetDistance (directions.narrow(1L, 0L, int64 Analysis.FrechetComponents), mean) data.Test.Images generated
          Cancellation = hooks.Cancellation }
    // One split per split setting (each copies about 190 MB of images), freed when the run ends.
    let splits =
        experiments
        |> Array.map (fun e -> e.Data)
        |> Array.distinct
        |> Array.map (fun d -> d, trainValidationSplit d.SplitSeed d.ValidationSize data.Train)
        |> dict
    use _ =
        { new IDisposable with
            member _.Dispose() =
                for (t, v) in splits.Values do
                    for x in [ t.Images; t.Labels; v.Images; v.Labels ] do x.Dispose() }
    let splitOf (e: ExperimentDefinition) =
        let train, validation = splits.[e.Data]
        if settings.Quick then take QuickTrainingImages train, take QuickValidationImages validation else train, validation
    let slots =
        [ for ei in 0 .. experiments.Length - 1 do
              for r in 0 .. repeatsOf ei - 1 do
                  for i in 0 .. experiments.[ei].Models.Length - 1 -> { Experiment = ei; Repeat = r; Model = i } ]
    let specOf slot = experiments.[slot.Experiment].Models.[slot.Model]
    let isTrained slot =
        match (specOf slot).Source with
        | BestOf _ -> false
        | _ -> true
    // Written by the lanes, each slot once, read after the lanes that wrote it have finished.
    let trained = Collections.Concurrent.ConcurrentDictionary<Slot, Architecture * TrainingResult * float>()
    let measured = Collections.Concurrent.ConcurrentDictionary<Slot, ModelOutcome>()
    let runStarted = DateTime.UtcNow
    let startedAt = Collections.Concurrent.ConcurrentDictionary<int, DateTime>()
    // A slot's architecture and training; a bestOf slot's are its source's best model's (None when
    // every model there diverged).
    let rec trainingOf slot : (Architecture * TrainingResult) option =
        match (specOf slot).Source with
        | BestOf other ->
            let oi = indexOf other
            match bestOf oi (fun _ -> true) with
            | -1 -> None
            | best -> trainingOf { Experiment = oi; Repeat = min slot.Repeat (repeatsOf oi - 1); Model = best }
        | _ ->
            let architecture, result, _ = trained.[slot]
            Some(architecture, result)
    // The model of experiment `ei` (among those `keep` accepts, and never one that diverged in any
    // repeat) with the lowest mean best validation loss over repeats; the first of equals; -1 if none.
    and bestOf ei (keep: Architecture -> bool) : int =
        let healthy i =
            List.init (repeatsOf ei) (fun r -> trainingOf { Experiment = ei; Repeat = r; Model = i })
            |> List.forall (function
                | Some(_, t) -> not t.Diverged
                | None -> false)
        let candidates =
            experiments.[ei].Models
            |> List.indexed
            |> List.filter (fun (i, _) -> healthy i && keep (fst (trainingOf { Experiment = ei; Repeat = 0; Model = i }).Value))
        let meanLoss i =
            List.init (repeatsOf ei) (fun r -> (snd (trainingOf { Experiment = ei; Repeat = r; Model = i }).Value).Best.ValidationLoss) |> List.average
        match candidates with
        | [] -> -1
        | _ -> candidates |> List.minBy (fun (i, _) -> meanLoss i) |> fst
    let architectureOf slot =
        let experiment = experiments.[slot.Experiment]
        match (specOf slot).Source with
        | Widths(kind, hidden, latent) -> Architecture.create kind hidden latent
        | ArchitectureOf(kind, other) ->
            let oi = indexOf other
            match bestOf oi (fun a -> a.Kind = Vae) with
            | -1 ->
                raise (DefinitionException(experiment.Name, "", $"architectureOf \"{other}\": that experiment has no VAE that trained without diverging"))
            | best ->
                let a = fst (trainingOf { Experiment = oi; Repeat = 0; Model = best }).Value
                Architecture.create kind a.Hidden a.Latent
        | BestOf _ -> invalidOp "a bestOf model is not trained"
    let seedOf slot = (effectiveTraining settings experiments.[slot.Experiment]).Seed + int64 slot.Repeat
    let train slot () =
        let experiment = experiments.[slot.Experiment]
        let spec = specOf slot
        startedAt.TryAdd(slot.Experiment, DateTime.UtcNow) |> ignore
        hooks.OnModelStart experiment.Name spec.Name slot.Repeat slot.Model experiment.Models.Length
        let architecture = architectureOf slot
        let options = { effectiveTraining settings experiment with Seed = seedOf slot }
        let trainSplit, validationSplit = splitOf experiment
        let clock = Stopwatch.StartNew()
        let result = Training.train (hooks.Training experiment.Name spec.Name slot.Repeat) options trainSplit validationSplit (Model.create options.Seed architecture)
        trained.[slot] <- (architecture, result, clock.Elapsed.TotalSeconds)
    // A model is measured by two jobs: `measure` and the IWAE estimate (`likelihood`); the
    // second to finish puts the outcome together and reports the model done.
    let likelihoods = Collections.Concurrent.ConcurrentDictionary<Slot, float option>()
    let complete slot =
        lock measured (fun () ->
            match measured.TryGetValue slot, likelihoods.TryGetValue slot with
            | (true, outcome), (true, iwae) -> Some { outcome with IwaeNll = iwae }
            | _ -> None)
        |> Option.iter (fun outcome ->
            measured.[slot] <- outcome
            hooks.OnModelDone experiments.[slot.Experiment].Name outcome)
    // A model whose training diverged is not measured (its weights are not a model's to judge).
    let measureSlot slot () =
        let architecture, result, seconds = trained.[slot]
        if result.Diverged then hooks.OnModelDiverged experiments.[slot.Experiment].Name (specOf slot) slot.Repeat result
        else
            let outcome = measure measuring (seedOf slot) slot.Repeat (specOf slot) architecture result seconds None
            lock measured (fun () -> measured.[slot] <- outcome)
            complete slot
    let likelihoodSlot slot () =
        let _, result, _ = trained.[slot]
        if not result.Diverged then
            let iwae = likelihood measuring (effectiveAnalysis settings experiments.[slot.Experiment]) (seedOf slot) result.Model
            lock measured (fun () -> likelihoods.[slot] <- iwae)
            complete slot
    // The experiments a training waits for: another experiment's best architecture needs that
    // experiment's (and, through bestOf, its sources') trainings.
    let rec upstream ei =
        experiments.[ei].Models
        |> List.collect (fun m ->
            match m.Source with
            | ArchitectureOf(_, other)
            | BestOf other -> let oi = indexOf other in oi :: upstream oi
            | Widths _ -> [])
    let waitsFor slot =
        match (specOf slot).Source with
        | ArchitectureOf(_, other) -> let oi = indexOf other in set (oi :: upstream oi)
        | _ -> Set.empty
    let waitedFor = slots |> List.map waitsFor |> Set.unionMany
    // Each model's training, then its measurement and its IWAE estimate. A free lane takes the
    // first job that is ready, so a trained model is measured before another starts training, and
    // the order is: trainings others wait for, then those that waited (started as soon as they
    // can, so that none is left to train alone at the end), then the rest, each group in
    // definition order. Measuring holds the most memory (thousands of generated images, the
    // probes' distances): one model is measured at a time, beside a training or an IWAE estimate
    // (which takes longest: 14 s for a five-layer VAE on one thread, mostly decoding a million
    // samples).
    let trainedSlots =
        slots
        |> List.filter isTrained
        |> List.sortBy (fun slot ->
            if waitedFor.Contains slot.Experiment then 0
            elif not (waitsFor slot).IsEmpty then 1
            else 2)
    let trainJob = trainedSlots |> List.mapi (fun j slot -> slot, 3 * j) |> dict
    let jobs: Lanes.LaneJob list =
        [ for slot in trainedSlots do
              let needed = waitsFor slot
              let after = trainedSlots |> List.filter (fun s -> needed.Contains s.Experiment) |> List.map (fun s -> trainJob.[s])
              { Lanes.LaneJob.After = after; Exclusive = false; Work = train slot }
              { Lanes.LaneJob.After = [ trainJob.[slot] ]; Exclusive = true; Work = measureSlot slot }
              { Lanes.LaneJob.After = [ trainJob.[slot] ]; Exclusive = false; Work = likelihoodSlot slot } ]
    Lanes.run (effectiveLanes settings) jobs
    // Outcomes in definition order; a bestOf model is its source's outcome, measured there.
    experiments
    |> Array.indexed
    |> Array.fold
        (fun (previous: ExperimentOutcome list) (ei, experiment) ->
            let slotsOf i = List.init (repeatsOf ei) (fun r -> { Experiment = ei; Repeat = r; Model = i })
            let divergedModel i =
                match experiment.Models.[i].Source with
                | BestOf _ -> false
                | _ -> slotsOf i |> List.exists (fun slot -> let _, t, _ = trained.[slot] in t.Diverged)
            let healthy, diverged = List.init experiment.Models.Length id |> List.partition (divergedModel >> not)
            let outcomeOf slot =
                match (specOf slot).Source with
                | BestOf other ->
                    let spec = specOf slot
                    hooks.OnModelStart experiment.Name spec.Name slot.Repeat slot.Model experiment.Models.Length
                    let source = previous |> List.find (fun o -> o.Definition.Name = other)
                    match source.Best with
                    | None ->
                        raise (DefinitionException(experiment.Name, "", $"bestOf \"{other}\": every model of that experiment diverged"))
                    | Some sourceBest ->
                        let best = source.RepeatsOf sourceBest.Spec.Name |> List.item (min slot.Repeat (source.Repeats.Length - 1))
                        // The same model: its measurements (and samples) are the ones taken where it was trained.
                        let outcome = { best with Spec = spec; Repeat = slot.Repeat; ReusedFrom = Some(other, best.Spec.Name) }
                        hooks.OnModelDone experiment.Name outcome
                        outcome
                | _ -> measured.[slot]
            let outcome =
                { Definition = experiment
                  Training = effectiveTraining settings experiment
                  Analysis = effectiveAnalysis settings experiment
                  StartedUtc = match startedAt.TryGetValue ei with | true, t -> t | _ -> runStarted
                  Originals = originals
                  InterpolationEnds = measuring.InterpolationEnds
                  TestLabels = data.Test.Labels
                  Repeats = List.init (repeatsOf ei) (fun r -> healthy |> List.map (fun i -> outcomeOf { Experiment = ei; Repeat = r; Model = i }))
                  Diverged =
                    diverged
                    |> List.map (fun i ->
                        let trainings = slotsOf i |> List.map (fun slot -> let a, t, _ = trained.[slot] in slot.Repeat, a, t)
                        { Spec = experiment.Models.[i]
                          Architecture = (let _, a, _ = trainings.Head in a)
                          Trainings = trainings |> List.map (fun (r, _, t) -> r, t) }) }
            previous @ [ outcome ])
        []
