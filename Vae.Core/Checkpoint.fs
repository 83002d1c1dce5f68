/// Saving and loading trained models in the safetensors format (an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data), so
/// that PyTorch users can read the weights with `safetensors.torch.load_file`. The architecture
/// is kept in the header's `__metadata__`.
module Vae.Core.Checkpoint

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open Vae.Core.Layers

/// Written to `__metadata__.format`.
[<Literal>]
let Format = "vae-core/1"

/// Raw little-endian bytes of value arrays (safetensors stores little-endian values, as this
/// library's platforms are; the reader copies the file's bytes into the parameters as they are).
module private MemoryMarshalBytes =
    open System.Runtime.InteropServices

    let ofArray<'T when 'T: unmanaged and 'T: struct and 'T :> ValueType and 'T: (new: unit -> 'T)> (values: 'T[]) : byte[] =
        MemoryMarshal.AsBytes(ReadOnlySpan values).ToArray()

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
    metadata["kind"] <- JsonValue.Create(ModelKind.key a.Kind)
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

/// safetensors' own reader refuses a longer header (its MAX_HEADER_SIZE), so this one does too,
/// before reading it.
[<Literal>]
let MaxHeaderLength = 100000000

/// What the header promises, checked against the architecture and the data section's length.
type private Plan =
    { Architecture: Architecture
      Layout: Slot list
      DType: torch.ScalarType
      /// Where each slot's bytes start in the data section, in `Layout` order.
      Starts: int64 list }

let private elementSize (dtype: torch.ScalarType) = if dtype = torch.ScalarType.Float64 then 8L else 4L

/// Text from the file as it may appear in a one-line message: JSON-escaped, at most 60 characters.
let private clip (text: string) = if text.Length <= 60 then text else text.[..58] + "…"

let private quoted (text: string) = clip $"\"{JsonEncodedText.Encode(text)}\""

let private shown (value: JsonElement) =
    use buffer = new MemoryStream()
    (use writer = new Utf8JsonWriter(buffer)
     value.WriteTo writer)
    clip (Encoding.UTF8.GetString(buffer.ToArray()))

let private strictUtf8 = UTF8Encoding(false, true)

/// The header's length from the file's first eight bytes, within safetensors' cap and the file.
let private headerLength (file: string) (declared: uint64) (fileLength: int64) : int =
    let fail problem = InvalidInput.about file problem
    if declared > uint64 MaxHeaderLength then fail $"header length {declared} is more than safetensors allows ({MaxHeaderLength} bytes)"
    if declared > uint64 (fileLength - 8L) then fail $"header length {declared} runs past the end of the file ({fileLength} bytes)"
    int declared

/// Checks every field of the header, and every tensor's dtype, shape and byte range against the
/// architecture the metadata claims and a data section of `dataLength` bytes. Nothing is allocated
/// here that the header's own length does not bound.
let private readHeader (file: string) (header: ReadOnlyMemory<byte>) (dataLength: int64) : Plan =
    let fail problem = InvalidInput.about file problem
    let text =
        try strictUtf8.GetString(header.Span)
        with :? DecoderFallbackException -> fail "the header is not valid UTF-8"
    use document =
        try JsonDocument.Parse(text, JsonDocumentOptions(AllowDuplicateProperties = false))
        with :? JsonException as e -> fail $"the header is not a JSON object ({e.Message})"
    let root = document.RootElement
    if root.ValueKind <> JsonValueKind.Object then fail $"the header is not a JSON object (it is {shown root})"
    let metadata =
        match root.TryGetProperty "__metadata__" with
        | true, m when m.ValueKind = JsonValueKind.Object -> m
        | true, m -> fail $"__metadata__ must be an object of strings, was {shown m}"
        | _ -> fail "__metadata__ is missing: not a checkpoint of this library"
    let meta (key: string) =
        match metadata.TryGetProperty key with
        | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
        | true, v -> fail $"__metadata__.{key} must be a string, was {shown v}"
        | _ -> fail $"__metadata__.{key} is missing: not a checkpoint of this library"
    let format = meta "format"
    if format <> Format then fail $"__metadata__.format is {quoted format}, expected \"{Format}\""
    let whole field (text: string) =
        match Int32.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> fail $"__metadata__.{field} is not a whole number: {quoted text}"
    let kind =
        let text = meta "kind"
        match ModelKind.tryOfKey text with
        | Some kind -> kind
        | None -> fail $"__metadata__.kind is {quoted text}, expected {ModelKind.keys ()}"
    let tensorNames = root.EnumerateObject() |> Seq.map _.Name |> Seq.filter ((<>) "__metadata__") |> Set.ofSeq
    let hidden =
        match meta "hidden" with
        | "" -> []
        | text ->
            // Every hidden layer adds four tensors; counting first keeps a list of millions of
            // widths in a large header from being split and laid out.
            let depth = (text |> Seq.filter ((=) ',') |> Seq.length) + 1
            if depth > tensorNames.Count then
                fail $"__metadata__.hidden lists {depth} widths, more than the header's {tensorNames.Count} tensors can describe"
            text.Split(',') |> Array.mapi (fun i w -> whole $"hidden[{i}]" w) |> List.ofArray
    let input = whole "input" (meta "input")
    let latent = whole "latent" (meta "latent")
    let architecture =
        match Architecture.tryCreate kind input hidden latent with
        | Ok a -> a
        | Error message -> fail $"__metadata__ describes an invalid architecture ({message})"
    // A layer of width w has at least w values (a VAE's head 2 × latent), each of at least 4 bytes.
    // Checking this before the layout keeps a claimed width of 10⁹ from being laid out and the
    // layout's arithmetic (2 × latent in an int, elements × 8 in an int64) from overflowing.
    let widths =
        [ yield "input", input, int64 input
          yield! hidden |> List.mapi (fun i w -> $"hidden[{i}]", w, int64 w)
          yield "latent", latent, ModelKind.headWidth kind (int64 latent) ]
    match widths |> List.tryFind (fun (_, _, values) -> 4L * values > dataLength) with
    | Some(field, width, _) -> fail $"__metadata__.{field} is {width}: a layer that wide needs more than the file's {dataLength} data bytes"
    | None -> ()
    let layout = Architecture.layout architecture
    let expected = layout |> List.map _.Name |> Set.ofList
    match Set.toList (tensorNames - expected), Set.toList (expected - tensorNames) with
    | extra :: _, _ -> fail $"tensor {quoted extra} does not belong to the architecture {architecture}"
    | [], missing :: _ -> fail $"tensor {missing} of the architecture {architecture} is missing"
    | [], [] -> ()
    let wholeNumbers (value: JsonElement) =
        if value.ValueKind <> JsonValueKind.Array then None
        else
            let numbers = [ for d in value.EnumerateArray() -> if d.ValueKind = JsonValueKind.Number then (match d.TryGetInt64() with | true, n when n >= 0L -> Some n | _ -> None) else None ]
            if List.forall Option.isSome numbers then Some(List.choose id numbers) else None
    let entries =
        layout
        |> List.map (fun slot ->
            let problem text = fail $"tensor {slot.Name}: {text}"
            let entry = root.GetProperty slot.Name
            if entry.ValueKind <> JsonValueKind.Object then problem $"must be an object, was {shown entry}"
            let field (name: string) =
                match entry.TryGetProperty name with
                | true, v -> v
                | _ -> problem $"\"{name}\" is missing"
            let dtype =
                match field "dtype" with
                | v when v.ValueKind = JsonValueKind.String -> v.GetString()
                | v -> problem $"\"dtype\" must be a string, was {shown v}"
            let shape =
                let value = field "shape"
                match wholeNumbers value with
                | Some shape -> shape
                | None -> problem $"\"shape\" must be an array of whole numbers, was {shown value}"
            let offsets =
                let value = field "data_offsets"
                match wholeNumbers value with
                | Some([ _; _ ] as offsets) -> offsets
                | _ -> problem $"\"data_offsets\" must be an array of two whole numbers, was {shown value}"
            slot, dtype, shape, offsets)
    let dtype =
        match entries |> List.map (fun (_, d, _, _) -> d) |> List.distinct with
        | [ "F32" ] -> torch.ScalarType.Float32
        | [ "F64" ] -> torch.ScalarType.Float64
        | dtypes -> fail $"""parameters must all be F32 or all F64, found {String.Join(", ", dtypes |> List.truncate 5 |> List.map quoted)}"""
    let size slot = elements slot * elementSize dtype
    let ranges =
        entries
        |> List.map (fun (slot, _, shape, offsets) ->
            if shape <> slot.Shape then
                fail $"tensor {slot.Name} has shape {shape}, the architecture {architecture} needs {slot.Shape}"
            match offsets with
            | [ first; last ] when first <= last && last <= dataLength && last - first = size slot -> slot, first
            | _ -> fail $"tensor {slot.Name} has data_offsets {offsets}, which do not hold {elements slot} values within the {dataLength} data bytes")
    // safetensors' own rule: the tensors tile the data section, without gaps or overlaps, to its end.
    let tiled =
        ranges
        |> List.sortBy snd
        |> List.fold
            (fun next (slot, first) ->
                if first <> next then
                    fail $"tensor {slot.Name}'s data starts at byte {first}, not at {next}: the tensors must tile the data section"
                first + size slot)
            0L
    if tiled <> dataLength then
        fail $"the data section is {dataLength} bytes, the architecture {architecture} needs {tiled}"
    { Architecture = architecture; Layout = layout; DType = dtype; Starts = List.map snd ranges }

/// How many of `values` (little-endian floats of the plan's type) are NaN or infinite.
let private nonFinite (dtype: torch.ScalarType) (values: ReadOnlySpan<byte>) =
    let mutable count = 0
    if dtype = torch.ScalarType.Float64 then
        for v in Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(values) do
            if not (Double.IsFinite v) then count <- count + 1
    else
        for v in Runtime.InteropServices.MemoryMarshal.Cast<byte, float32>(values) do
            if not (Single.IsFinite v) then count <- count + 1
    count

/// The model the plan describes, its values copied from `data` (the data section). Non-finite
/// values are refused first, on the file's bytes: a model holding one makes every output NaN.
let private build (file: string) (plan: Plan) (data: ReadOnlyMemory<byte>) : Model =
    let size slot = elements slot * elementSize plan.DType
    for slot, start in List.zip plan.Layout plan.Starts do
        let bad = nonFinite plan.DType (data.Span.Slice(int start, int (size slot)))
        if bad > 0 then
            InvalidInput.about file $"tensor {slot.Name} holds non-finite values ({bad} of {elements slot})"
    let model = allocate plan.DType plan.Layout |> Model.ofParameters plan.Architecture
    let values = model.Parameters.Values.bytes
    // The parameters are one flat buffer in layout order; the file may order its tensors otherwise.
    let targets = plan.Layout |> List.scan (fun target slot -> target + size slot) 0L
    for (slot, start), target in List.zip (List.zip plan.Layout plan.Starts) (List.take plan.Layout.Length targets) do
        data.Span.Slice(int start, int (size slot)).CopyTo(values.Slice(int target))
    model

/// Reads a model from checkpoint bytes; `file` only names the source in errors. Any fault in the
/// bytes raises InvalidInputException, naming the field at fault, before anything is allocated.
let ofBytes (file: string) (bytes: byte[]) : Model =
    if bytes.Length < 8 then InvalidInput.about file $"too short for a safetensors header ({bytes.Length} bytes)"
    let length = headerLength file (BitConverter.ToUInt64(bytes, 0)) bytes.LongLength
    let dataStart = 8 + length
    let plan = readHeader file (ReadOnlyMemory(bytes, 8, length)) (int64 (bytes.Length - dataStart))
    build file plan (ReadOnlyMemory(bytes, dataStart, bytes.Length - dataStart))

/// Loads a model saved by `save`; rejects, naming the problem, a file that is not such a
/// checkpoint or whose tensors do not match the architecture it claims. Only a regular file is
/// opened, and only the header is read before the file's length is checked against it.
let load (path: string) : Model =
    let fail problem = InvalidInput.about path problem
    use stream =
        match InputFile.openRead path with
        | Ok stream -> stream
        | Error problem -> fail problem
    try
        let fileLength = stream.Length
        if fileLength < 8L then fail $"too short for a safetensors header ({fileLength} bytes)"
        let prefix = Array.zeroCreate<byte> 8
        stream.ReadExactly prefix
        let length = headerLength path (BitConverter.ToUInt64(prefix, 0)) fileLength
        let header = Array.zeroCreate<byte> length
        stream.ReadExactly header
        let dataLength = fileLength - 8L - int64 length
        if dataLength >= int64 Array.MaxLength then
            fail $"the data section is {dataLength} bytes, more than a model this library loads can have"
        let plan = readHeader path (ReadOnlyMemory header) dataLength
        // The plan has matched the data section's length to the architecture: this reads no more.
        let data = Array.zeroCreate<byte> (int dataLength)
        stream.ReadExactly data
        build path plan (ReadOnlyMemory data)
    with :? IOException | :? UnauthorizedAccessException as e -> fail $"cannot be read ({e.Message})"
