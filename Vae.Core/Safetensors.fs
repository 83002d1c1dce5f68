/// The safetensors format (an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, with `__metadata__` a map of strings, then the raw
/// little-endian data), shared by model checkpoints (Checkpoint.fs) and training states
/// (TrainingCheckpoint.fs): the writer, writing a file whole or not at all, and the reader's checks,
/// each naming the field at fault, made before anything the header's own length does not bound is
/// allocated.
module Vae.Core.Safetensors

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp

/// The name of a tensor type in the format.
let dtypeName (dtype: torch.ScalarType) =
    match dtype with
    | torch.ScalarType.Float32 -> "F32"
    | torch.ScalarType.Float64 -> "F64"
    | torch.ScalarType.Byte -> "U8"
    | other -> invalidArg (nameof dtype) $"{other} tensors cannot be saved"

/// Bytes per element of the floating-point types the library stores.
let floatSize (dtype: torch.ScalarType) = if dtype = torch.ScalarType.Float64 then 8L else 4L

/// A tensor in the header: its name, dtype name, shape and length in bytes.
type Entry = { Name: string; DType: string; Shape: int64 list; Bytes: int64 }

/// The file's beginning: the header length, then the JSON header (metadata first, tensors in the
/// order given, their data laid end to end in that order), padded with spaces so that the data
/// starts on an 8-byte boundary, as the format recommends.
let header (metadata: (string * string) list) (entries: Entry list) : byte[] =
    let root = JsonObject()
    let meta = JsonObject()
    for key, value in metadata do
        meta[key] <- JsonValue.Create value
    root["__metadata__"] <- meta
    entries
    |> List.fold
        (fun offset entry ->
            let node = JsonObject()
            node["dtype"] <- JsonValue.Create entry.DType
            node["shape"] <- JsonArray(entry.Shape |> List.map (fun d -> JsonValue.Create d :> JsonNode) |> Array.ofList)
            node["data_offsets"] <- JsonArray(JsonValue.Create(offset: int64) :> JsonNode, JsonValue.Create(offset + entry.Bytes: int64))
            root[entry.Name] <- node
            offset + entry.Bytes)
        0L
    |> ignore
    // Quotes inside a metadata string (a training state's history) as \" rather than \u0022; the
    // encoder still escapes control characters, and ASCII names are written as they are.
    let json = Encoding.UTF8.GetBytes(root.ToJsonString(JsonSerializerOptions(Encoder = Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)))
    let padded = Array.append json (Array.create ((8 - json.Length % 8) % 8) (byte ' '))
    Array.append (BitConverter.GetBytes(uint64 padded.Length)) padded

/// Writes `path` whole or not at all: the bytes go to a temporary file beside it, are flushed to
/// the disk (fsync), and the temporary file is renamed over `path` (rename(2): a reader sees the old
/// file or the new one, never a part). A process killed while writing leaves at most its temporary
/// file (`path.<process id>.tmp`), which no reader opens; one named after the process lets two
/// processes write the same path without mixing their bytes.
let rec writeAtomically (path: string) (write: Stream -> unit) = place path write true |> ignore

/// Creates `path` as `writeAtomically` writes it, unless a file is there already: the temporary file
/// is moved without replacing (link(2) on Linux, which fails if the name is taken), so that of several
/// processes creating it at once exactly one does. False when the file was there (nothing written).
and createAtomically (path: string) (write: Stream -> unit) : bool = place path write false

and private place (path: string) (write: Stream -> unit) (replace: bool) : bool =
    let temporary = $"{path}.{Environment.ProcessId}.tmp"
    try
        (use stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None)
         write stream
         stream.Flush true)
        try
            File.Move(temporary, path, replace)
            true
        with :? IOException when not replace && File.Exists path ->
            File.Delete temporary
            false
    with _ ->
        File.Delete temporary
        reraise ()

/// Deletes the temporary files `writeAtomically` left beside `path` (`path.<process id>.tmp`) when a
/// process was killed while writing it, so that writing `path` again leaves the folder as a write
/// never interrupted would. For the one process that writes `path` (a run folder's claimant): another
/// writer's temporary file would go too.
let removeTemporaries (path: string) =
    let folder, name = Path.GetDirectoryName(Path.GetFullPath path), Path.GetFileName path
    if Directory.Exists folder then
        for file in Directory.EnumerateFiles folder do
            let candidate = Path.GetFileName file
            if candidate.Length > name.Length + 5 && candidate.StartsWith(name + ".", StringComparison.Ordinal) && candidate.EndsWith(".tmp", StringComparison.Ordinal)
               && candidate.Substring(name.Length + 1, candidate.Length - name.Length - 5) |> Seq.forall Char.IsAsciiDigit then
                File.Delete file

/// The header of `tensors` (contiguous, of a type `dtypeName` names) with `metadata`, in their order.
let headerOfTensors (metadata: (string * string) list) (tensors: (string * torch.Tensor) list) : byte[] =
    header
        metadata
        [ for name, t in tensors ->
              { Name = name
                DType = dtypeName t.dtype
                Shape = List.ofArray t.shape
                Bytes = t.NumberOfElements * int64 t.ElementSize } ]

/// Writes `tensors` with `metadata` to `path` as one safetensors file, whole or not at all
/// (`writeAtomically`); the tensors are made contiguous for the write (the caller keeps its own).
let writeTensors (path: string) (metadata: (string * string) list) (tensors: (string * torch.Tensor) list) =
    let contiguous = [ for name, t in tensors -> name, t.contiguous () ]
    try
        let header = headerOfTensors metadata contiguous
        writeAtomically path (fun stream ->
            stream.Write(header, 0, header.Length)
            for _, t in contiguous do
                stream.Write(Span<byte>.op_Implicit t.bytes))
    finally
        for _, t in contiguous do t.Dispose()

/// safetensors' own reader refuses a longer header (its MAX_HEADER_SIZE), so this one does too,
/// before reading it.
[<Literal>]
let MaxHeaderLength = 100000000

/// Text from the file as it may appear in a one-line message: JSON-escaped, at most 60 characters.
let private clip (text: string) = if text.Length <= 60 then text else text.[..58] + "…"

/// A value from the file, quoted for a message.
let quoted (text: string) = clip $"\"{JsonEncodedText.Encode(text)}\""

/// A JSON value from the file, for a message.
let shown (value: JsonElement) =
    use buffer = new MemoryStream()
    (use writer = new Utf8JsonWriter(buffer)
     value.WriteTo writer)
    clip (Encoding.UTF8.GetString(buffer.ToArray()))

let private strictUtf8 = UTF8Encoding(false, true)

/// The header's length from the file's first eight bytes, within safetensors' cap and the file.
let headerLength (file: string) (declared: uint64) (fileLength: int64) : int =
    let fail problem = InvalidInput.about file problem
    if declared > uint64 MaxHeaderLength then fail $"header length {declared} is more than safetensors allows ({MaxHeaderLength} bytes)"
    if declared > uint64 (fileLength - 8L) then fail $"header length {declared} runs past the end of the file ({fileLength} bytes)"
    int declared

/// A parsed header, valid while its document lives. `What` names what the file should be, for
/// messages ("checkpoint", "training state").
type Header =
    { File: string
      What: string
      Root: JsonElement
      Metadata: JsonElement
      /// The tensors' names: every key but `__metadata__`.
      TensorNames: Set<string> }

/// Parses the header (strict UTF-8, JSON without duplicate keys, an object with an object
/// `__metadata__`) and hands it to `read`.
let readHeader (file: string) (what: string) (header: ReadOnlyMemory<byte>) (read: Header -> 'a) : 'a =
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
        | _ -> fail $"__metadata__ is missing: not a {what} of this library"
    let names = root.EnumerateObject() |> Seq.map _.Name |> Seq.filter ((<>) "__metadata__") |> Set.ofSeq
    read { File = file; What = what; Root = root; Metadata = metadata; TensorNames = names }

/// The string `__metadata__.key`.
let meta (header: Header) (key: string) : string =
    match header.Metadata.TryGetProperty key with
    | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
    | true, v -> InvalidInput.about header.File $"__metadata__.{key} must be a string, was {shown v}"
    | _ -> InvalidInput.about header.File $"__metadata__.{key} is missing: not a {header.What} of this library"

/// `__metadata__.format`, which must be `format`.
let checkFormat (header: Header) (format: string) =
    let found = meta header "format"
    if found <> format then InvalidInput.about header.File $"__metadata__.format is {quoted found}, expected \"{format}\""

/// A whole number (int) from the metadata field `field`.
let whole (header: Header) (field: string) (text: string) : int =
    match Int32.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
    | true, v -> v
    | _ -> InvalidInput.about header.File $"__metadata__.{field} is not a whole number: {quoted text}"

/// The architecture in the metadata (`kind`, `input`, `hidden`, `latent`, as Checkpoint writes
/// them), for a file whose data section of `dataLength` bytes holds the model's values (4 bytes
/// or more each) at least once.
let architecture (header: Header) (dataLength: int64) : Architecture =
    let fail problem = InvalidInput.about header.File problem
    let kind =
        let text = meta header "kind"
        match ModelKind.tryOfKey text with
        | Some kind -> kind
        | None -> fail $"__metadata__.kind is {quoted text}, expected {ModelKind.keys ()}"
    let widthsOf field text =
        match text with
        | "" -> []
        | text ->
            // Every layer adds at least two weights and two biases (16 bytes); counting first
            // keeps a list of millions of widths in a large header from being split and laid out.
            let depth = (text |> Seq.filter ((=) ',') |> Seq.length) + 1
            if int64 depth * 16L > dataLength then
                fail $"__metadata__.{field} lists {depth} widths, more than the file's {dataLength} data bytes can hold"
            text.Split(',') |> Array.mapi (fun i w -> whole header $"{field}[{i}]" w) |> List.ofArray
    let hidden = widthsOf "hidden" (meta header "hidden")
    let input = whole header "input" (meta header "input")
    let latent = whole header "latent" (meta header "latent")
    let optional key = if header.Metadata.TryGetProperty(key: string) |> fst then Some(meta header key) else None
    // Convolutions and β are written only when a model has them (Checkpoint.architectureMetadata).
    let conv = optional "conv" |> Option.map (fun text -> if text = "" then fail "__metadata__.conv is empty" else widthsOf "conv" text)
    let beta =
        match optional "beta" with
        | None -> 1.0
        | Some text ->
            match Double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, v -> v
            | _ -> fail $"__metadata__.beta is not a number: {quoted text}"
    let design = { Kind = kind; Conv = defaultArg conv []; Hidden = hidden; Latent = latent; Beta = beta }
    let created =
        match conv with
        | None when beta = 1.0 -> Architecture.tryCreate kind input hidden latent
        | None -> Architecture.tryCreate kind input hidden latent |> Result.bind (fun _ -> Architecture.tryOfDesign (1, input) design)
        | Some _ ->
            let height, width = whole header "height" (meta header "height"), whole header "width" (meta header "width")
            if int64 height * int64 width <> int64 input then
                fail $"__metadata__.height × width is {height} × {width}, not the input's {input} values"
            Architecture.tryOfDesign (height, width) design
    let architecture =
        match created with
        | Ok a -> a
        | Error message -> fail $"__metadata__ describes an invalid architecture ({message})"
    // A layer of width w has at least w values (a VAE's head 2 × latent), each of at least 4 bytes.
    // Checking this before the layout keeps a claimed width of 10⁹ from being laid out and the
    // layout's arithmetic (2 × latent in an int, elements × 8 in an int64) from overflowing.
    let widths =
        [ yield "input", input, int64 input
          yield! design.Conv |> List.mapi (fun i c -> $"conv[{i}]", c, int64 c)
          yield! hidden |> List.mapi (fun i w -> $"hidden[{i}]", w, int64 w)
          yield "latent", latent, ModelKind.headWidth kind (int64 latent) ]
    match widths |> List.tryFind (fun (_, _, values) -> 4L * values > dataLength) with
    | Some(field, width, _) -> fail $"__metadata__.{field} is {width}: a layer that wide needs more than the file's {dataLength} data bytes"
    | None -> ()
    // A convolution holds in × out × 16 weights, and the flattened last feature map feeds a dense
    // layer of at least as many: both checked in int64 before the layout multiplies them in ints.
    match architecture.Image with
    | Some(height, width) ->
        let channels = 1L :: (design.Conv |> List.map int64)
        let kernel = int64 (Convolution.Kernel * Convolution.Kernel)
        for i, (cin, cout) in List.indexed (List.pairwise channels) do
            if 4L * cin * cout * kernel > dataLength then
                fail $"__metadata__.conv[{i}] is {cout}: a convolution from {cin} channels that wide needs more than the file's {dataLength} data bytes"
        let k = design.Conv.Length
        let flat = List.last channels * int64 (height >>> k) * int64 (width >>> k)
        if 4L * flat > dataLength then
            fail $"__metadata__.conv: its last feature map ({flat} values) needs more than the file's {dataLength} data bytes"
    | None -> ()
    architecture

/// Refuses a tensor in the header that is not among `expected`, and one of `expected` that the
/// header lacks; `owner` names what they belong to ("the architecture VAE 784-400-20").
let checkNames (header: Header) (expected: Set<string>) (owner: string) =
    match Set.toList (header.TensorNames - expected), Set.toList (expected - header.TensorNames) with
    | extra :: _, _ -> InvalidInput.about header.File $"tensor {quoted extra} does not belong to {owner}"
    | [], missing :: _ -> InvalidInput.about header.File $"tensor {missing} of {owner} is missing"
    | [], [] -> ()

/// A tensor's entry as the header gives it: dtype name, shape and data offsets, each of the
/// right JSON type (offsets: two whole numbers).
let entry (header: Header) (name: string) : string * int64 list * int64 list =
    let problem text = InvalidInput.about header.File $"tensor {name}: {text}"
    let entry = header.Root.GetProperty name
    if entry.ValueKind <> JsonValueKind.Object then problem $"must be an object, was {shown entry}"
    let field (name: string) =
        match entry.TryGetProperty name with
        | true, v -> v
        | _ -> problem $"\"{name}\" is missing"
    let wholeNumbers (value: JsonElement) =
        if value.ValueKind <> JsonValueKind.Array then None
        else
            let numbers = [ for d in value.EnumerateArray() -> if d.ValueKind = JsonValueKind.Number then (match d.TryGetInt64() with | true, n when n >= 0L -> Some n | _ -> None) else None ]
            if List.forall Option.isSome numbers then Some(List.choose id numbers) else None
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
    dtype, shape, offsets

/// Where a tensor of `bytes` bytes with data offsets `offsets` starts, if they hold exactly that
/// within a data section of `dataLength` bytes.
let start (offsets: int64 list) (bytes: int64) (dataLength: int64) : int64 option =
    match offsets with
    | [ first; last ] when first <= last && last <= dataLength && last - first = bytes -> Some first
    | _ -> None

/// safetensors' own rule: the tensors (name, start, length in bytes) tile the data section,
/// without gaps or overlaps, to its end; `owner` names what needs them, for the message.
let checkTiling (file: string) (ranges: (string * int64 * int64) list) (dataLength: int64) (owner: string) =
    let tiled =
        ranges
        |> List.sortBy (fun (_, first, _) -> first)
        |> List.fold
            (fun next (name, first, size) ->
                if first <> next then
                    InvalidInput.about file $"tensor {name}'s data starts at byte {first}, not at {next}: the tensors must tile the data section"
                first + size)
            0L
    if tiled <> dataLength then InvalidInput.about file $"the data section is {dataLength} bytes, {owner} needs {tiled}"

/// How many of `values` (little-endian floats of `dtype`) are NaN or infinite.
let nonFinite (dtype: torch.ScalarType) (values: ReadOnlySpan<byte>) =
    let mutable count = 0
    if dtype = torch.ScalarType.Float64 then
        for v in Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(values) do
            if not (Double.IsFinite v) then count <- count + 1
    else
        for v in Runtime.InteropServices.MemoryMarshal.Cast<byte, float32>(values) do
            if not (Single.IsFinite v) then count <- count + 1
    count

/// Reads a value from safetensors bytes; `file` only names the source in errors. `plan` checks the
/// header against the data section's length; `build` makes the value from the plan and the data.
let ofBytes (file: string) (bytes: byte[]) (plan: ReadOnlyMemory<byte> -> int64 -> 'plan) (build: 'plan -> ReadOnlyMemory<byte> -> 'a) : 'a =
    if bytes.Length < 8 then InvalidInput.about file $"too short for a safetensors header ({bytes.Length} bytes)"
    let length = headerLength file (BitConverter.ToUInt64(bytes, 0)) bytes.LongLength
    let dataStart = 8 + length
    let p = plan (ReadOnlyMemory(bytes, 8, length)) (int64 (bytes.Length - dataStart))
    build p (ReadOnlyMemory(bytes, dataStart, bytes.Length - dataStart))

/// Reads a value from the safetensors file `path` as `ofBytes` does. Only a regular file is
/// opened, and only the header is read before the file's length is checked against it; `what`
/// names the value in the message for a data section no array can hold ("a model").
let read (path: string) (what: string) (plan: ReadOnlyMemory<byte> -> int64 -> 'plan) (build: 'plan -> ReadOnlyMemory<byte> -> 'a) : 'a =
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
            fail $"the data section is {dataLength} bytes, more than {what} this library loads can have"
        let p = plan (ReadOnlyMemory header) dataLength
        // The plan has matched the data section's length to what it describes: this reads no more.
        let data = Array.zeroCreate<byte> (int dataLength)
        stream.ReadExactly data
        build p (ReadOnlyMemory data)
    with :? IOException | :? UnauthorizedAccessException as e -> fail $"cannot be read ({e.Message})"
