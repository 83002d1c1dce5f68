/// The files a run writes for other tools: epochs.csv and metrics.csv (pandas, spreadsheets) and the TensorBoard event
/// files, each read back here by a reader of its own (RFC 4180; TFRecord with CRC-32C, protocol buffers).
module Vae.Tests.ExportsTests

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json
open Expecto
open Vae.Reporting
open Vae.Tests.Shared

// A hand-made run whose numbers use every digit of a double, so that a value written with fewer digits reads back
// different. task1 trains each model twice: a VAE, an autoencoder whose name needs quoting, a VAE of β = 4 (the one
// with a β-weighted test loss), and a model that diverged in its first repeat (an infinite and NaN losses) and not in
// its second. task2 trains one model once: its TensorBoard folder has no repeat folders.

let private height, width = 12, 12
let private pixels = height * width

let private data =
    DataSetResult("tiny", "/data/tiny", height, width, [| "a"; "b"; "c" |], [| 0; 2 |], 300, 90, readOnlyDict [ "t10k-labels-idx1-ubyte", "00" ])

let private image (k: int) = Array.init pixels (fun p -> float32 ((p * 7 + k * 13) % 17) / 17.0f)

let private samples () =
    ModelSamples(
        Array.init 9 image, Array.init 9 (fun i -> image (i + 9)), Array.init 9 (fun i -> image (i + 18)),
        Array.init 60 (fun i -> float32 (Math.Cos(float i))), Array.init 60 (fun i -> float32 (Math.Sin(float i))), Array.init 60 (fun i -> i % 3),
        Array.init 9 (fun i -> image (i + 27)), Array.init 10 (fun i -> image (i + 36)), [| 0; 2 |], Array.init 9 (fun i -> image (i + 46)), [| 0 |])

/// `count` epochs of model `j`'s repeat `k`, the validation loss falling; KL 0 for an autoencoder.
let private history j k count vae =
    [| for e in 1 .. count ->
        let kl = if vae then 10.0 / 3.0 + 0.1 * float e else 0.0
        EpochReport(e, 300.0 / float (e + k) + Math.PI * float j, kl, 290.0 / float (e + k) + Math.E * float j, kl / 7.0, 1.0 / 7.0 + float e) |]

let private repeat j k (epochs: EpochReport[]) vae =
    let recon, kl = 240.0 + 1.0 / 3.0 + 0.1 * float k + float j, (if vae then 15.0 + 2.0 / 3.0 + 0.01 * float k else 0.0)
    let last = Array.last epochs
    RepeatResult(
        k, 42L + int64 k, last.Epoch, last, LossBreakdown(recon, kl, recon + kl, (if vae then Nullable(250.0 + 1.0 / 9.0 + float k) else Nullable())),
        1 + k % 2, ProbeResult(0.7 + 0.0123456789 * float (k + j), 0.69 + 1e-9 * float k, 0.75, 0.76),
        0.0412345678912345 + 0.001 * float k, 0.0365 / 3.0, 17.123456789 + float k, Epochs = epochs)

let private model experiment j name kind beta (lengths: int list) =
    let vae = kind = ModelKind.Vae
    let repeats = lengths |> List.mapi (fun k n -> repeat j k (history j k n vae) vae) |> Array.ofList
    let first = repeats.[0]
    let summary =
        readOnlyDict [ for metric in Vae.Core.Metrics.all do
                           match Vae.Core.Metrics.summarise metric [ for r in repeats -> r.ToCore beta ] with
                           | Some s -> metric.Key, MetricSummary(s.Mean, s.Std, s.Count)
                           | None -> () ]
    ModelResult(
        name, kind, [| 64; 32 |], 2, 11234L, first.BestEpoch, first.Epochs, first.Test, first.TrainingSeconds, first.GenerationDistance,
        null, RunLayout.Checkpoint(experiment, name), RunLayout.ModelImages(experiment, name), first.ActiveUnits,
        (if vae then [| 0.5; 0.25 |] else [| 0.0; 0.0 |]), first.Probe, first.FittedGenerationDistance, repeats, summary,
        Samples = samples (), Input = pixels, Beta = beta)

let private awkwardName = "ae, \"wide\""

let private diverging =
    DivergedModel(
        "diverging", ModelKind.Vae, [| 64 |], 2, 999L,
        [| DivergedRepeat(0, 42L, Nullable 2,
                          [| EpochReport(1, 400.5, 3.25, 390.125, 3.5, 1.5)
                             EpochReport(2, Double.PositiveInfinity, Double.NaN, Double.NaN, Double.NaN, 1.25) |])
           DivergedRepeat(1, 43L, Nullable(), history 3 1 3 true) |],
        Input = pixels)

let private started = DateTime(2025, 11, 24, 5, 0, 0, 250, DateTimeKind.Utc)

let private run =
    let task1 =
        ExperimentResult(
            "task1", "two repeats", started, 42L,
            [| model "task1" 0 "baseline" ModelKind.Vae 1.0 [ 3; 4 ]
               model "task1" 1 awkwardName ModelKind.Autoencoder 1.0 [ 2; 3 ]
               model "task1" 2 "beta-4" ModelKind.Vae 4.0 [ 4; 2 ] |],
            "baseline", RunLayout.ExperimentImages "task1", 2, [||], 50, 100,
            Diverged = [| diverging |], Data = data, MaxEpochs = Nullable 4)
    let task2 =
        ExperimentResult(
            "task2", "one repeat", started.AddMinutes 3.5, 7L, [| model "task2" 4 "solo" ModelKind.Vae 1.0 [ 3 ] |],
            "solo", RunLayout.ExperimentImages "task2", 1, [||], 50, 100, Data = data)
    RunResult("exports", started, true, [| task1; task2 |])

/// Epochs trained over every repeat of every model of the run, the diverged ones included.
let private totalEpochs = (3 + 4) + (2 + 3) + (4 + 2) + (2 + 3) + 3

let private writeRun folder =
    (Report.WriteAsync(run, folder)).GetAwaiter().GetResult()
    folder

/// The report of `run`, written once for the tests that read it.
let private written = lazy (writeRun (temporaryDirectory ()))

let private at relative = Path.Combine(written.Value, relative)

/// RFC 4180: fields separated by commas, rows ended by CRLF, a quoted field may hold commas, line breaks and doubled
/// quotes.
let private parseCsv (text: string) : string list list =
    let rec go i quoted (field: string) (row: string list) (rows: string list list) =
        let charAt k = if k < text.Length then Some text.[k] else None
        match quoted, charAt i, charAt (i + 1) with
        | _, None, _ -> List.rev (if field = "" && row.IsEmpty then rows else List.rev (field :: row) :: rows)
        | true, Some '"', Some '"' -> go (i + 2) true (field + "\"") row rows
        | true, Some '"', _ -> go (i + 1) false field row rows
        | true, Some c, _ -> go (i + 1) true (field + string c) row rows
        | false, Some '"', _ -> go (i + 1) true field row rows
        | false, Some ',', _ -> go (i + 1) false "" (field :: row) rows
        | false, Some '\r', Some '\n' -> go (i + 2) false "" [] (List.rev (field :: row) :: rows)
        | false, Some c, _ -> go (i + 1) false (field + string c) row rows
    go 0 false "" [] []

/// The header and the rows of a CSV file of the run, each row as a map from column to cell.
let private readCsv relative =
    let text = File.ReadAllText(at relative)
    Expect.isTrue (text.EndsWith "\r\n") $"{relative}: the last row ends with CRLF"
    match parseCsv text with
    | header :: rows ->
        for row in rows do Expect.equal row.Length header.Length $"{relative}: every row has a cell per column ({row})"
        header, [ for row in rows -> Map.ofList (List.zip header row) ]
    | [] -> failtest $"{relative} is empty"

/// A number of results.json: null (a loss that was not finite) reads as NaN.
let private number (element: JsonElement) = if element.ValueKind = JsonValueKind.Null then nan else element.GetDouble()

/// The cell holds `expected` exactly (the same double when read back); empty for a value that is not finite.
let private holds (cell: string) (expected: float) (what: string) =
    if Double.IsFinite expected then
        Expect.equal (Double.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture)) expected $"{what}: {cell}"
    else
        Expect.equal cell "" $"{what}: a value that is not finite is an empty cell"

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), a bit at a time: written apart from the writer's table.
let private crc32c (data: byte[]) =
    data
    |> Array.fold (fun crc b -> Seq.fold (fun c _ -> if c &&& 1u <> 0u then (c >>> 1) ^^^ 0x82F63B78u else c >>> 1) (crc ^^^ uint32 b) [ 1..8 ]) 0xFFFFFFFFu
    |> (~~~)

/// TFRecord's masked CRC: rotated right by 15 bits, plus 0xa282ead8.
let private masked (crc: uint32) = ((crc >>> 15) ||| (crc <<< 17)) + 0xa282ead8u

/// The records of a TFRecord file: each its length (uint64), the masked CRC-32C of the length, the data and the masked
/// CRC-32C of the data; fails on a checksum that does not match or a record cut short.
let private records (bytes: byte[]) : byte[] list =
    let rec go offset acc =
        if offset = bytes.Length then List.rev acc
        else
            if bytes.Length - offset < 12 then failwith $"record at {offset}: header cut short"
            if masked (crc32c bytes.[offset .. offset + 7]) <> BitConverter.ToUInt32(bytes, offset + 8) then
                failwith $"record at {offset}: the length's CRC does not match"
            let length = BitConverter.ToUInt64(bytes, offset)
            if length > uint64 (bytes.Length - offset - 16) then failwith $"record at {offset}: {length} bytes of data announced, fewer left"
            let n = int length
            let data = bytes.[offset + 12 .. offset + 11 + n]
            if masked (crc32c data) <> BitConverter.ToUInt32(bytes, offset + 12 + n) then failwith $"record at {offset}: the data's CRC does not match"
            go (offset + 16 + n) (data :: acc)
    go 0 []

type private Wire =
    | Varint of uint64
    | Fixed64 of byte[]
    | Fixed32 of byte[]
    | LengthDelimited of byte[]

/// The fields of a protocol buffer, in order: (field number, value).
let private fields (data: byte[]) : (int * Wire) list =
    let rec varint offset shift (value: uint64) =
        let b = data.[offset]
        let value = value ||| (uint64 (b &&& 0x7Fuy) <<< shift)
        if b &&& 0x80uy = 0uy then value, offset + 1 else varint (offset + 1) (shift + 7) value
    let rec go offset acc =
        if offset = data.Length then List.rev acc
        else
            let key, offset = varint offset 0 0UL
            let number = int (key >>> 3)
            match int (key &&& 7UL) with
            | 0 -> let v, next = varint offset 0 0UL in go next ((number, Varint v) :: acc)
            | 1 -> go (offset + 8) ((number, Fixed64 data.[offset .. offset + 7]) :: acc)
            | 5 -> go (offset + 4) ((number, Fixed32 data.[offset .. offset + 3]) :: acc)
            | 2 -> let n, start = varint offset 0 0UL in go (start + int n) ((number, LengthDelimited data.[start .. start + int n - 1]) :: acc)
            | wire -> failwith $"wire type {wire}"
    go 0 []

type private Event = { WallTime: float; Step: int64; FileVersion: string option; Scalars: (string * float32) list }

/// An Event (tensorflow/core/util/event.proto): wall_time = 1 (double), step = 2 (int64), file_version = 3 (string),
/// summary = 5 (Summary: repeated Value value = 1; Value: string tag = 1, float simple_value = 2).
let private event (data: byte[]) : Event =
    let all = fields data
    let scalar (value: byte[]) =
        let parts = fields value
        let tag = parts |> List.pick (function 1, LengthDelimited b -> Some(Encoding.UTF8.GetString b) | _ -> None)
        let simple = parts |> List.pick (function 2, Fixed32 b -> Some(BitConverter.ToSingle(b, 0)) | _ -> None)
        tag, simple
    { WallTime = all |> List.tryPick (function 1, Fixed64 b -> Some(BitConverter.ToDouble(b, 0)) | _ -> None) |> Option.defaultValue 0.0
      Step = all |> List.tryPick (function 2, Varint v -> Some(int64 v) | _ -> None) |> Option.defaultValue 0L
      FileVersion = all |> List.tryPick (function 3, LengthDelimited b -> Some(Encoding.UTF8.GetString b) | _ -> None)
      Scalars =
        [ for number, value in all do
              match number, value with
              | 5, LengthDelimited summary ->
                  for n, v in fields summary do
                      match n, v with
                      | 1, LengthDelimited value -> yield scalar value
                      | _ -> ()
              | _ -> () ] }

/// Every training of the run as results.json lists it: (experiment, its repeat count, model, kind, repeat, epochs).
let private trainings () =
    use document = JsonDocument.Parse(File.ReadAllText(at RunLayout.Results))
    [ for e in document.RootElement.GetProperty("experiments").EnumerateArray() do
          let name, repeats = e.GetProperty("experiment").GetString(), e.GetProperty("repeats").GetInt32()
          for group in [ "models"; "diverged" ] do
              for m in e.GetProperty(group).EnumerateArray() do
                  for r in m.GetProperty("repeats").EnumerateArray() do
                      yield name, repeats, m.GetProperty("name").GetString(), m.GetProperty("kind").GetString(), r.GetProperty("repeat").GetInt32(),
                            [ for epoch in r.GetProperty("epochs").EnumerateArray() ->
                                  epoch.GetProperty("epoch").GetInt32(),
                                  [ for field in [ "trainRecon"; "trainKl"; "valRecon"; "valKl"; "seconds" ] -> number (epoch.GetProperty field) ] ] ]

/// The experiment of `name` in the run.
let private experimentOf name = run.Experiments |> Seq.find (fun e -> e.Experiment = name)

/// Each metric's value in a repeat of results.json, worked out here from the repeat's own fields: the numbers the
/// registry's summaries are made of. None: the model has no such value.
let private expectedMetrics (beta: float) (r: JsonElement) : Map<string, float option> =
    let best, test, probe = r.GetProperty "best", r.GetProperty "test", r.GetProperty "probe"
    let get (e: JsonElement) (name: string) = number (e.GetProperty name)
    Map.ofList
        [ "valLoss", Some(get best "valRecon" + get best "valKl")
          "testRecon", Some(get test "recon")
          "testKl", Some(get test "kl")
          "testLoss", Some(get test "loss")
          "testObjective", (if beta = 1.0 then None else Some(get test "recon" + beta * get test "kl"))
          "iwaeNll", (match test.TryGetProperty "iwaeNll" with
                      | true, v when v.ValueKind <> JsonValueKind.Null -> Some(v.GetDouble())
                      | _ -> None)
          "activeUnits", Some(get r "activeUnits")
          "linearAccuracy", Some(get probe "linearAccuracy")
          "knnAccuracy", Some(get probe "knnAccuracy")
          "generationDistance", Some(get r "generationDistance")
          "fittedGenerationDistance", Some(get r "fittedGenerationDistance")
          "trainingSeconds", Some(get r "trainingSeconds") ]

/// The event files under the run's tensorboard folder, relative to the run folder with '/'.
let private eventFiles folder =
    let root = Path.Combine(folder, RunLayout.TensorBoard)
    [ for f in Directory.GetFiles(root, "*", SearchOption.AllDirectories) -> Path.GetRelativePath(folder, f).Replace('\\', '/') ] |> List.sort

[<Tests>]
let tests =
    testSequenced <| testList "Exports" [
        testList "EpochsCsv" [
            test "epochs.csv has a row for every epoch of every repeat, diverged ones included, holding results.json's numbers" {
                let header, rows = readCsv RunLayout.EpochsCsv
                Expect.equal header [ "experiment"; "model"; "kind"; "repeat"; "epoch"; "train_recon"; "train_kl"; "val_recon"; "val_kl"; "seconds" ] "columns"
                let expected =
                    [ for experiment, _, model, kind, repeat, epochs in trainings () do
                          for epoch, values in epochs -> experiment, model, kind, repeat, epoch, values ]
                Expect.equal rows.Length totalEpochs $"one row per epoch trained: {totalEpochs}"
                Expect.equal rows.Length expected.Length "as many rows as results.json has epochs"
                for row, (experiment, model, kind, repeat, epoch, values) in List.zip rows expected do
                    let where = $"{experiment}/{model} repeat {repeat} epoch {epoch}"
                    Expect.equal (row.["experiment"], row.["model"], row.["kind"], row.["repeat"], row.["epoch"])
                        (experiment, model, kind, string repeat, string epoch) where
                    for column, value in List.zip [ "train_recon"; "train_kl"; "val_recon"; "val_kl"; "seconds" ] values do
                        holds row.[column] value $"{where}: {column}"
                let diverged = rows |> List.filter (fun r -> r.["model"] = "diverging" && r.["repeat"] = "0" && r.["epoch"] = "2")
                Expect.equal [ for r in diverged -> r.["train_recon"], r.["val_kl"] ] [ "", "" ] "the diverged epoch's infinite and NaN losses are empty cells"
            }

            test "a model name holding a comma and quotes is quoted, its quotes doubled (RFC 4180), and reads back whole" {
                let text = File.ReadAllText(at RunLayout.EpochsCsv)
                Expect.stringContains text "task1,\"ae, \"\"wide\"\"\",ae,0,1," "the quoted name"
                let _, rows = readCsv RunLayout.EpochsCsv
                Expect.equal (rows |> List.filter (fun r -> r.["model"] = awkwardName) |> List.length) 5 "the autoencoder's five epochs"
            }
        ]

        testList "MetricsCsv" [
            test "metrics.csv has the identifying columns, then one column per metric of the registry, in its order" {
                let header, _ = readCsv RunLayout.MetricsCsv
                Expect.equal header
                    ([ "experiment"; "model"; "kind"; "hidden"; "latent"; "repeat"; "seed"; "best_epoch" ] @ [ for m in Vae.Core.Metrics.all -> m.Key ])
                    "columns"
            }

            test "each repeat of each measured model has a row holding its metrics; a metric the model lacks is an empty cell" {
                let _, rows = readCsv RunLayout.MetricsCsv
                use document = JsonDocument.Parse(File.ReadAllText(at RunLayout.Results))
                let expected =
                    [ for e in document.RootElement.GetProperty("experiments").EnumerateArray() do
                          for m in e.GetProperty("models").EnumerateArray() do
                              for r in m.GetProperty("repeats").EnumerateArray() -> e, m, r ]
                Expect.equal rows.Length (2 + 2 + 2 + 1) "three models of two repeats and one of one; the diverged model was not measured"
                for row, (e, m, r) in List.zip rows expected do
                    let name, repeat = m.GetProperty("name").GetString(), r.GetProperty("repeat").GetInt32()
                    let where = $"{name} repeat {repeat}"
                    let beta = m.GetProperty("beta").GetDouble()
                    Expect.equal
                        [ for c in [ "experiment"; "model"; "kind"; "hidden"; "latent"; "repeat"; "seed"; "best_epoch" ] -> row.[c] ]
                        [ e.GetProperty("experiment").GetString(); name; m.GetProperty("kind").GetString(); "64-32"; "2"
                          string repeat; string (r.GetProperty("seed").GetInt64()); string (r.GetProperty("bestEpoch").GetInt32()) ]
                        $"{where}: identifying columns"
                    let metrics = expectedMetrics beta r
                    Expect.equal (Set.ofSeq metrics.Keys) (set [ for metric in Vae.Core.Metrics.all -> metric.Key ])
                        "this test knows how each metric of the registry is read from a repeat"
                    for KeyValue(key, value) in metrics do
                        match value with
                        | Some v -> holds row.[key] v $"{where}: {key}"
                        | None -> Expect.equal row.[key] "" $"{where}: {key} is empty"
                let cell model repeat key = (rows |> List.find (fun r -> r.["model"] = model && r.["repeat"] = repeat)).[key]
                Expect.equal (cell awkwardName "0" "iwaeNll") "" "an autoencoder has no IWAE NLL"
                Expect.notEqual (cell "baseline" "0" "iwaeNll") "" "a VAE has one"
                Expect.equal (cell "baseline" "0" "testObjective") "" "a VAE of β = 1 has no β-weighted test loss"
                Expect.notEqual (cell "beta-4" "1" "testObjective") "" "a VAE of β = 4 has one"
                Expect.isFalse (rows |> List.exists (fun r -> r.["model"] = "diverging")) "no row for the diverged model"
            }
        ]

        testList "TensorBoardLogs" [
            test "the test's CRC-32C gives the standard check value" {
                Expect.equal (crc32c (Encoding.ASCII.GetBytes "123456789")) 0xE3069283u "CRC-32C of \"123456789\""
            }

            test "every training has an event file whose records' checksums hold, with each epoch's scalars at its step" {
                let expected = trainings ()
                let paths =
                    [ for experiment, repeats, model, _, repeat, _ in expected ->
                          if repeats > 1 then $"tensorboard/{experiment}/{model}/r{repeat + 1}/events.out.tfevents.vae"
                          else $"tensorboard/{experiment}/{model}/events.out.tfevents.vae" ]
                Expect.equal (eventFiles written.Value) (List.sort paths) "one event file per training, a folder per repeat only when there are several, nothing else"
                for (experiment, _, model, _, repeat, epochs), path in List.zip expected paths do
                    let events = records (File.ReadAllBytes(at path)) |> List.map event
                    let start = (experimentOf experiment).StartedUtc
                    let startSeconds = (start - DateTime.UnixEpoch).TotalSeconds
                    Expect.equal events.Head.FileVersion (Some "brain.Event:2") $"{path}: the first event names the format"
                    Expect.floatClose Accuracy.veryHigh events.Head.WallTime startSeconds $"{path}: written at the experiment's start"
                    let scalars = events.Tail
                    Expect.equal [ for e in scalars -> e.Step ] [ for epoch, _ in epochs -> int64 epoch ] $"{path}: an event per epoch, step = epoch"
                    let elapsed = epochs |> List.scan (fun sum (_, values) -> sum + List.item 4 values) 0.0 |> List.tail
                    for e, (epoch, values), elapsed in List.zip3 scalars epochs elapsed do
                        let trainRecon, trainKl, valRecon, valKl, seconds = values.[0], values.[1], values.[2], values.[3], values.[4]
                        Expect.floatClose Accuracy.veryHigh e.WallTime (startSeconds + elapsed) $"{path} epoch {epoch}: the start plus the epochs' seconds"
                        let expectedScalars =
                            [ "train/reconstruction", trainRecon; "train/kl", trainKl; "validation/reconstruction", valRecon
                              "validation/kl", valKl; "validation/loss", valRecon + valKl; "seconds", seconds ]
                        Expect.equal [ for tag, _ in e.Scalars -> tag ] [ for tag, _ in expectedScalars -> tag ] $"{path} epoch {epoch}: tags"
                        for (tag, value), (_, expectedValue) in List.zip e.Scalars expectedScalars do
                            // results.json writes NaN and ±∞ alike as null (read as NaN): either is not finite.
                            let wanted = float32 expectedValue
                            Expect.isTrue (value = wanted || not (Single.IsFinite value) && not (Single.IsFinite wanted))
                                $"{path} epoch {epoch} {tag}: {value} is {expectedValue} as a float"
            }

            test "the diverged epoch's losses are in its event file as they were: infinite and NaN" {
                let events = records (File.ReadAllBytes(at "tensorboard/task1/diverging/r1/events.out.tfevents.vae")) |> List.map event
                let last = (List.last events).Scalars |> Map.ofList
                Expect.equal (List.last events).Step 2L "the epoch it diverged"
                Expect.equal last.["train/reconstruction"] Single.PositiveInfinity "infinite"
                Expect.isTrue (Single.IsNaN last.["validation/loss"]) "NaN"
            }

            test "the reader refuses a file with any flipped byte: in a length, a checksum or the data" {
                let path = at "tensorboard/task2/solo/events.out.tfevents.vae"
                let bytes = File.ReadAllBytes path
                Expect.isGreaterThan (records bytes).Length 1 "the file as written reads"
                let firstLength = int (BitConverter.ToUInt64(bytes, 0))
                let second = 16 + firstLength
                for position, what in [ 0, "the first length"; 9, "the first length's CRC"; 12, "the first event's data"
                                        12 + firstLength, "the first data's CRC"; second + 20, "the second event's data"; bytes.Length - 1, "the last CRC" ] do
                    let corrupted = Array.copy bytes
                    corrupted.[position] <- corrupted.[position] ^^^ 0x10uy
                    Expect.throws (fun () -> records corrupted |> ignore) $"a flipped bit in {what} (byte {position})"
            }

            test "writing the run's files again gives the same tables and event files, byte for byte, and removes what a killed writer left" {
                let files = eventFiles written.Value @ [ RunLayout.EpochsCsv; RunLayout.MetricsCsv ]
                let before = [ for relative in files -> File.ReadAllBytes(at relative) ]
                // The temporary files of writes a kill -9 interrupted (`<file>.<process id>.tmp`).
                for leftover in [ RunLayout.EpochsCsv + ".4242.tmp"; "tensorboard/task2/solo/events.out.tfevents.vae.4242.tmp" ] do
                    File.WriteAllText(at leftover, "half")
                writeRun written.Value |> ignore
                Expect.equal (eventFiles written.Value @ [ RunLayout.EpochsCsv; RunLayout.MetricsCsv ]) files "the same files"
                for relative, bytes in List.zip files before do
                    Expect.sequenceEqual (File.ReadAllBytes(at relative)) bytes relative
                Expect.isEmpty (Directory.GetFiles(written.Value, "*.tmp", SearchOption.AllDirectories)) "no temporary file left"
            }
        ]
    ]
