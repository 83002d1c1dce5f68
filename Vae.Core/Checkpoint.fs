/// Saving and loading trained models in the safetensors format (an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data), so
/// that PyTorch users can read the weights with `safetensors.torch.load_file`. The architecture
/// is kept in the header's `__metadata__`.
module Vae.Core.Checkpoint

open System
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open Vae.Core.Layers

/// A checkpoint is unusable; the message names the file and what is wrong with it.
type CheckpointException(file: string, problem: string) =
    inherit Exception($"{file}: {problem}")

/// Written to `__metadata__.format`.
[<Literal>]
let Format = "vae-core/1"

/// Raw little-endian bytes of value arrays and back (safetensors stores little-endian values, as
/// this library's platforms are).
module private MemoryMarshalBytes =
    open System.Runtime.InteropServices

    let ofArray<'T when 'T: unmanaged and 'T: struct and 'T :> ValueType and 'T: (new: unit -> 'T)> (values: 'T[]) : byte[] =
        MemoryMarshal.AsBytes(ReadOnlySpan values).ToArray()

    let toArray<'T when 'T: unmanaged and 'T: struct and 'T :> ValueType and 'T: (new: unit -> 'T)> (bytes: ReadOnlySpan<byte>) : 'T[] =
        MemoryMarshal.Cast<byte, 'T>(bytes).ToArray()

let private dtypeName (dtype: torch.ScalarType) =
    match dtype with
    | torch.ScalarType.Float32 -> "F32"
    | torch.ScalarType.Float64 -> "F64"
    | other -> invalidArg (nameof dtype) $"{other} parameters cannot be saved"

let private bytesOf (values: torch.Tensor) : byte[] =
    match values.dtype with
    | torch.ScalarType.Float64 -> MemoryMarshalBytes.ofArray (values.data<float>().ToArray())
    | _ -> MemoryMarshalBytes.ofArray (values.data<float32>().ToArray())

/// The checkpoint of `model` as bytes.
let toBytes (model: Model) : byte[] =
    let a = model.Architecture
    let p = model.Parameters
    let elementSize = int64 p.Values.ElementSize
    let header = JsonObject()
    let metadata = JsonObject()
    metadata["format"] <- JsonValue.Create Format
    metadata["kind"] <- JsonValue.Create(match a.Kind with Vae -> "vae" | Autoencoder -> "ae")
    metadata["input"] <- JsonValue.Create(string a.Input)
    metadata["hidden"] <- JsonValue.Create(String.Join(",", a.Hidden))
    metadata["latent"] <- JsonValue.Create(string a.Latent)
    header["__metadata__"] <- metadata
    p.Layout
    |> List.fold
        (fun offset slot ->
            let size = elements slot * elementSize
            let entry = JsonObject()
            entry["dtype"] <- JsonValue.Create(dtypeName p.Values.dtype)
            entry["shape"] <- JsonArray(slot.Shape |> List.map (fun d -> JsonValue.Create d :> JsonNode) |> Array.ofList)
            entry["data_offsets"] <- JsonArray(JsonValue.Create(offset: int64) :> JsonNode, JsonValue.Create(offset + size: int64))
            header[slot.Name] <- entry
            offset + size)
        0L
    |> ignore
    let json = Encoding.UTF8.GetBytes(header.ToJsonString())
    // The data that follows the header starts on an 8-byte boundary (the format pads with spaces).
    let padded = Array.append json (Array.create ((8 - json.Length % 8) % 8) (byte ' '))
    Array.concat [ BitConverter.GetBytes(uint64 padded.Length); padded; bytesOf p.Values ]

/// Saves `model` to `path`; the file appears whole or not at all.
let save (path: string) (model: Model) =
    let bytes = toBytes model
    let temporary = $"{path}.{Environment.ProcessId}.tmp"
    File.WriteAllBytes(temporary, bytes)
    File.Move(temporary, path, true)

/// Reads a model from checkpoint bytes; `file` only names the source in errors.
let ofBytes (file: string) (bytes: byte[]) : Model =
    let fail problem = raise (CheckpointException(file, problem))
    if bytes.Length < 8 then fail "too short for a safetensors header"
    let headerLength = BitConverter.ToUInt64(bytes, 0)
    if headerLength > uint64 (bytes.Length - 8) then fail $"header length {headerLength} runs past the end of the file ({bytes.Length} bytes)"
    let header =
        try JsonNode.Parse(ReadOnlySpan(bytes, 8, int headerLength)).AsObject()
        with e -> fail $"the header is not a JSON object ({e.Message})"
    let dataStart = 8L + int64 headerLength
    let dataLength = int64 bytes.Length - dataStart
    let meta (key: string) =
        match header["__metadata__"] with
        | :? JsonObject as m when not (isNull m[key]) -> m[key].GetValue<string>()
        | _ -> fail $"__metadata__.{key} is missing: not a checkpoint of this library"
    if meta "format" <> Format then fail $"""__metadata__.format is "{meta "format"}", expected "{Format}" """
    let integer key (text: string) =
        match Int32.TryParse text with
        | true, v -> v
        | _ -> fail $"__metadata__.{key} is not a whole number: {text}"
    let kind =
        match meta "kind" with
        | "vae" -> Vae
        | "ae" -> Autoencoder
        | other -> fail $"__metadata__.kind is \"{other}\", expected \"vae\" or \"ae\""
    let hidden =
        match meta "hidden" with
        | "" -> []
        | text -> text.Split(',') |> Array.map (integer "hidden") |> List.ofArray
    let architecture =
        match Architecture.tryCreate kind (integer "input" (meta "input")) hidden (integer "latent" (meta "latent")) with
        | Ok a -> a
        | Error message -> fail $"__metadata__ describes an invalid architecture ({message})"
    let layout = Architecture.layout architecture
    let names = header |> Seq.map _.Key |> Seq.filter ((<>) "__metadata__") |> Set.ofSeq
    let expected = layout |> List.map _.Name |> Set.ofList
    match Set.toList (names - expected), Set.toList (expected - names) with
    | extra :: _, _ -> fail $"tensor {extra} does not belong to the architecture {architecture}"
    | [], missing :: _ -> fail $"tensor {missing} of the architecture {architecture} is missing"
    | [], [] -> ()
    let entries = layout |> List.map (fun slot -> slot, header[slot.Name].AsObject())
    let dtype =
        match entries |> List.map (fun (_, e) -> e["dtype"].GetValue<string>()) |> List.distinct with
        | [ "F32" ] -> torch.ScalarType.Float32
        | [ "F64" ] -> torch.ScalarType.Float64
        | dtypes -> fail $"""parameters must all be F32 or all F64, found {String.Join(", ", dtypes)}"""
    let elementSize = if dtype = torch.ScalarType.Float64 then 8L else 4L
    let model = allocate dtype layout |> Model.ofParameters architecture
    use _ = torch.no_grad ()
    for (slot, entry), parameter in List.zip entries model.Parameters.Tensors do
        let shape = entry["shape"].AsArray() |> Seq.map (fun d -> d.GetValue<int64>()) |> List.ofSeq
        if shape <> slot.Shape then
            fail $"tensor {slot.Name} has shape {shape}, the architecture {architecture} needs {slot.Shape}"
        let offsets = entry["data_offsets"].AsArray() |> Seq.map (fun d -> d.GetValue<int64>()) |> List.ofSeq
        match offsets with
        | [ first; last ] when 0L <= first && first <= last && last <= dataLength && last - first = elements slot * elementSize ->
            let slice = ReadOnlySpan(bytes, int (dataStart + first), int (last - first))
            use source =
                if dtype = torch.ScalarType.Float64 then torch.tensor (MemoryMarshalBytes.toArray<float> slice)
                else torch.tensor (MemoryMarshalBytes.toArray<float32> slice)
            (parameter: torch.Tensor).copy_(source.view(Array.ofList shape)) |> ignore
        | _ -> fail $"tensor {slot.Name} has data_offsets {offsets}, which do not hold {elements slot} values within the {dataLength} data bytes"
    model

/// Loads a model saved by `save`; rejects, naming the problem, a file that is not such a
/// checkpoint or whose tensors do not match the architecture it claims.
let load (path: string) : Model =
    let bytes =
        try File.ReadAllBytes path
        with :? IOException | :? UnauthorizedAccessException as e -> raise (CheckpointException(path, $"cannot be read ({e.Message})"))
    ofBytes path bytes
