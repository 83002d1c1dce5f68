module Vae.Tests.CheckpointTests

open System
open System.IO
open System.Text
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

let private trained () =
    let train, validation = trainValidation.Value
    let options = { Training.TrainingOptions.defaults with MaxEpochs = 1; Patience = None }
    (Training.train Training.TrainingHooks.none options (Data.take 3200 train) (Data.take 500 validation) (Model.create 4L Architecture.fiveLayer)).Model

/// Replaces `text` in the checkpoint's JSON header (the header length follows).
let private editHeader (bytes: byte[]) (text: string) (replacement: string) =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    let header = Encoding.UTF8.GetString(bytes, 8, length)
    if not (header.Contains text) then failwith $"the header does not contain {text}"
    let edited = Encoding.UTF8.GetBytes(header.Replace(text, replacement))
    Array.concat [ BitConverter.GetBytes(uint64 edited.Length); edited; bytes.[8 + length ..] ]

let private problem bytes = messageOf<InvalidInputException> (fun () -> Checkpoint.ofBytes "m.safetensors" bytes |> ignore)

/// VAE 3-2-1: 27 values, a checkpoint of under 1 KB.
let private tiny =
    lazy
        (match Architecture.tryCreate Vae 3 [ 2 ] 1 with
         | Ok a -> Model.create 3L a
         | Error e -> failwith e)

/// Checkpoints built to break the reader, each named and with the problem it must be refused
/// for (the message after "file: ").
let hostileCheckpoints =
    lazy
        (let baseline = Checkpoint.toBytes (Model.create 1L Architecture.baseline)
         let baselineData = 4L * Architecture.parameterCount Architecture.baseline
         let small = Checkpoint.toBytes tiny.Value
         let firstEntry = "\"encoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[400,784],\"data_offsets\":[0,1254400]}"
         let notUtf8 =
             let copy = Array.copy baseline
             let header = Encoding.UTF8.GetString(copy, 8, int (BitConverter.ToUInt64(copy, 0)))
             copy.[8 + header.IndexOf "vae-core"] <- 0xFFuy
             copy
         let nonFinite =
             let copy = Array.copy small
             BitConverter.GetBytes(nanf).CopyTo(copy, copy.Length - 4)
             BitConverter.GetBytes(infinityf).CopyTo(copy, copy.Length - 12)
             copy
         [ "a dtype given as a number",
           editHeader baseline "\"encoder.0.weight\":{\"dtype\":\"F32\"" "\"encoder.0.weight\":{\"dtype\":3",
           "tensor encoder.0.weight: \"dtype\" must be a string, was 3"
           "a latent given as a number", editHeader baseline "\"latent\":\"20\"" "\"latent\":20", "__metadata__.latent must be a string, was 20"
           "a shape given as a string",
           editHeader baseline "\"shape\":[400,784]" "\"shape\":\"400,784\"",
           "tensor encoder.0.weight: \"shape\" must be an array of whole numbers, was \"400,784\""
           "a tensor without a shape", editHeader baseline ",\"shape\":[400,784]" "", "tensor encoder.0.weight: \"shape\" is missing"
           "a tensor without a dtype", editHeader baseline "{\"dtype\":\"F32\",\"shape\":[400,784]" "{\"shape\":[400,784]", "tensor encoder.0.weight: \"dtype\" is missing"
           "a tensor without data_offsets", editHeader baseline ",\"data_offsets\":[0,1254400]" "", "tensor encoder.0.weight: \"data_offsets\" is missing"
           "a tensor that is not an object", editHeader baseline firstEntry "\"encoder.0.weight\":[1,2]", "tensor encoder.0.weight: must be an object, was [1,2]"
           "a header that is not UTF-8", notUtf8, "the header is not valid UTF-8"
           "a header with a duplicate key",
           editHeader baseline "\"kind\":\"vae\"" "\"kind\":\"vae\",\"kind\":\"ae\"",
           "the header is not a JSON object (Duplicate property 'kind' encountered during deserialization.)"
           "a hidden width of 10⁹",
           editHeader baseline "\"hidden\":\"400\"" "\"hidden\":\"1000000000\"",
           $"__metadata__.hidden[0] is 1000000000: a layer that wide needs more than the file's {baselineData} data bytes"
           "a hidden width written 1e9", editHeader baseline "\"hidden\":\"400\"" "\"hidden\":\"1e9\"", "__metadata__.hidden[0] is not a whole number: \"1e9\""
           "a latent size whose head overflows an int",
           editHeader baseline "\"latent\":\"20\"" "\"latent\":\"1500000000\"",
           $"__metadata__.latent is 1500000000: a layer that wide needs more than the file's {baselineData} data bytes"
           "a file of under 1 KB claiming hidden 10000,10000",
           editHeader small "\"hidden\":\"2\"" "\"hidden\":\"10000,10000\"",
           "__metadata__.hidden[0] is 10000: a layer that wide needs more than the file's 108 data bytes"
           "NaN and infinite weights", nonFinite, "tensor decoder.output.bias holds non-finite values (2 of 3)"
           "data beyond the tensors", Array.append small (Array.zeroCreate 4), "the data section is 112 bytes, the architecture VAE 3-2-1 needs 108"
           "two tensors over the same bytes",
           editHeader small "\"data_offsets\":[64,72]" "\"data_offsets\":[24,32]",
           "tensor decoder.0.bias's data starts at byte 24, not at 32: the tensors must tile the data section"
           "a header longer than safetensors allows",
           Array.append (BitConverter.GetBytes 200000000UL) small.[8..],
           "header length 200000000 is more than safetensors allows (100000000 bytes)" ])

/// The checkpoint's tensors stored in name order, as Python's safetensors writes them.
let private inNameOrder (bytes: byte[]) =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    let header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, length)).AsObject()
    let data = bytes.[8 + length ..]
    let reordered = JsonObject()
    reordered["__metadata__"] <- header["__metadata__"].DeepClone()
    let chunks =
        header
        |> Seq.map _.Key
        |> Seq.filter ((<>) "__metadata__")
        |> Seq.sort
        |> Seq.map (fun name ->
            let entry = header[name]
            let offsets = entry["data_offsets"].AsArray()
            let first, last = offsets[0].GetValue<int64>(), offsets[1].GetValue<int64>()
            name, data.[int first .. int last - 1])
        |> List.ofSeq
    chunks
    |> List.fold
        (fun offset (name, chunk: byte[]) ->
            let entry = header[name].DeepClone().AsObject()
            entry["data_offsets"] <- JsonArray(JsonValue.Create(offset: int64) :> JsonNode, JsonValue.Create(offset + chunk.LongLength))
            reordered[name] <- entry
            offset + chunk.LongLength)
        0L
    |> ignore
    let json = Encoding.UTF8.GetBytes(reordered.ToJsonString())
    Array.concat [ BitConverter.GetBytes(uint64 json.Length); json; yield! List.map snd chunks ]

/// A tiny checkpoint with a few bytes changed (mostly in the header, mostly to printable ones), cut
/// short, or with a piece of its header replaced by a JSON fragment (the header length kept right):
/// most faults then get past the JSON parser to the fields.
let private mutated =
    let bytes = Checkpoint.toBytes tiny.Value
    let fragments =
        [ "1"; "-1"; "0"; "1e9"; "2147483648"; "\"x\""; "\"\""; "[]"; "{}"; "null"; "true"; "[1,2]"; "[1,2,3]"; "\"400,784\""
          ","; ":"; "\"F64\""; "\"I8\""; "\"__metadata__\""; "\"\\u0000\\n\""; "\"5,0\""; "\"ae\""; "[0,99999999999]" ]
    safetensorsMutations bytes fragments (fun headerLength ->
        Gen.frequency [ 3, Gen.choose (0, 8 + headerLength - 1); 1, Gen.choose (0, bytes.Length - 1) ])

let private config = { FsCheckConfig.defaultConfig with maxTest = 200 }

[<Tests>]
let tests =
    testSequenced <| testList "Checkpoint" [
        test "a saved and reloaded model gives identical outputs" {
            let model = trained ()
            let path = Path.Combine(temporaryDirectory (), "model.safetensors")
            Checkpoint.save path model
            let loaded = Checkpoint.load path
            Expect.equal (string loaded.Architecture) (string model.Architecture) "architecture"
            use _ = torch.no_grad ()
            let x = dataset.Value.Test.Images.narrow(0L, 0L, 100L)
            Expect.isTrue (same (Model.reconstruct loaded x) (Model.reconstruct model x)) "identical reconstructions"
            Expect.isTrue (same (Model.encode loaded x) (Model.encode model x)) "identical codes"
            Expect.isFalse (File.Exists(path + $".{System.Environment.ProcessId}.tmp")) "no temporary file left"
        }

        test "the file is safetensors: header length, JSON header with offsets, then the data" {
            let model = Model.create 1L Architecture.baseline
            let bytes = Checkpoint.toBytes model
            let length = int (System.BitConverter.ToUInt64(bytes, 0))
            Expect.equal (length % 8) 0 "the data starts 8-byte aligned"
            let header = System.Text.Json.JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, length)).RootElement
            let head = header.GetProperty("encoder.head.weight")
            Expect.equal (head.GetProperty("dtype").GetString()) "F32" "dtype"
            Expect.equal [ for d in head.GetProperty("shape").EnumerateArray() -> d.GetInt64() ] [ 40L; 400L ] "shape"
            Expect.equal (bytes.Length - 8 - length) (4 * int (Model.parameterCount model)) "every value once, no holes"
            Expect.equal (header.GetProperty("__metadata__").GetProperty("hidden").GetString()) "400" "architecture in the metadata"
        }

        test "an autoencoder and a float64 model round-trip too" {
            let ae = Model.create 2L (Architecture.create Autoencoder [ 30 ] 5)
            let loaded = Checkpoint.ofBytes "ae" (Checkpoint.toBytes ae)
            Expect.equal loaded.Architecture.Kind Autoencoder "kind"
            Expect.isTrue (same (loaded.Parameters.Values) (ae.Parameters.Values)) "values"
            let wide = Model.convert torch.ScalarType.Float64 ae
            Expect.isTrue (same (Checkpoint.ofBytes "f64" (Checkpoint.toBytes wide)).Parameters.Values wide.Parameters.Values) "float64"
        }

        test "a checkpoint whose tensors do not match the architecture it claims is rejected" {
            let bytes = Checkpoint.toBytes (Model.create 1L Architecture.baseline)
            let m = problem (editHeader bytes "\"latent\":\"20\"" "\"latent\":\"21\"")
            Expect.stringContains m "m.safetensors: tensor encoder.head.weight has shape [40; 400], the architecture VAE 784-400-21 needs [42; 400]" "shape"
            let m2 = problem (editHeader bytes "\"hidden\":\"400\"" "\"hidden\":\"400,5\"")
            Expect.stringContains m2 "is missing" "missing tensor"
            let m3 = problem (editHeader bytes "\"kind\":\"vae\"" "\"kind\":\"ae\" ")
            Expect.stringContains m3 "has shape [40; 400], the architecture AE 784-400-20 needs [20; 400]" "kind"
        }

        test "truncated and foreign files are rejected with the reason" {
            let bytes = Checkpoint.toBytes (Model.create 1L Architecture.baseline)
            Expect.stringContains (problem bytes.[.. bytes.Length - 5]) "data_offsets" "truncated data"
            Expect.stringContains (problem bytes.[.. 100]) "runs past the end" "truncated header"
            Expect.stringContains (problem (editHeader bytes "vae-core/1" "other/99")) "__metadata__.format" "another format"
            Expect.stringContains (problem (Array.append (System.BitConverter.GetBytes 4UL) "nope"B)) "not a JSON object" "not JSON"
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> Checkpoint.load "/nonexistent/m.safetensors" |> ignore)) "cannot be read" "missing file"
        }
    
        test "each hostile checkpoint is refused with one line naming the field" {
            for name, bytes, expected in hostileCheckpoints.Value do
                Expect.equal (problem bytes) $"m.safetensors: {expected}" name
        }

        test "the hostile checkpoint that claims hidden 10000,10000 is under 1 KB" {
            let _, bytes, _ = hostileCheckpoints.Value |> List.find (fun (name, _, _) -> name.Contains "10000,10000")
            Expect.isLessThan bytes.Length 1024 "under 1 KB"
        }

        testPropertyWithConfig config "any mutation of a checkpoint loads or raises InvalidInputException with a one-line message"
            (Prop.forAll mutated (fun bytes ->
                try
                    Checkpoint.ofBytes "m.safetensors" bytes |> ignore
                    true
                with :? InvalidInputException as e -> not (e.Message.Contains '\n')))

        test "a checkpoint whose tensors are stored in another order loads the same values" {
            let model = tiny.Value
            let loaded = Checkpoint.ofBytes "m" (inNameOrder (Checkpoint.toBytes model))
            Expect.isTrue (same loaded.Parameters.Values model.Parameters.Values) "values in layout order"
        }

        test "load refuses a path that is not a regular file, and a file longer than its header allows before reading it" {
            let loadProblem path = messageOf<InvalidInputException> (fun () -> Checkpoint.load path |> ignore)
            Expect.equal (loadProblem "/dev/zero") "/dev/zero: is not a regular file (a character device)" "a device that never ends"
            let dir = temporaryDirectory ()
            Expect.equal (loadProblem dir) $"{dir}: is not a regular file (a directory)" "a folder"
            let path = Path.Combine(dir, "long.safetensors")
            sparse path (Checkpoint.toBytes tiny.Value) (64L <<< 20)
            let mutable m = ""
            let allocated = allocatedBy (fun () -> m <- loadProblem path)
            let dataLength = (64L <<< 20) - 8L - int64 (BitConverter.ToUInt64(Checkpoint.toBytes tiny.Value, 0))
            Expect.equal m $"{path}: the data section is {dataLength} bytes, the architecture VAE 3-2-1 needs 108" "refused"
            Expect.isLessThan allocated (1L <<< 20) "the 64 MB were not read"
            sparse path (Checkpoint.toBytes tiny.Value) (3L <<< 30)
            Expect.stringContains (loadProblem path) "more than a model this library loads can have" "a data section no array can hold"
            File.Delete path
        }
    ]
