/// The IDX file format of (Fashion-)MNIST, gzip-compressed or raw. Big-endian: two zero bytes,
/// a type byte (0x08 = unsigned byte), the number of dimensions, one 32-bit size per dimension,
/// then the data row-major, one byte per value.
module Vae.Core.Idx

open System
open System.IO
open System.IO.Compression
open System.Buffers.Binary

/// The content of an IDX file of unsigned bytes.
type IdxArray = { Dimensions: int list; Data: byte[] }

[<Literal>]
let UnsignedByte = 0x08uy

let private isGzip (bytes: byte[]) = bytes.Length >= 2 && bytes.[0] = 0x1Fuy && bytes.[1] = 0x8Buy

/// The most bytes `read` accepts from one file, raw or decompressed: 1 GiB is twenty times the
/// largest Fashion-MNIST file (47 MB), so any data set of that kind fits, yet a gzip bomb stops
/// there instead of at OutOfMemoryException; and a gzip file of that much content, its overhead
/// included, still fits one byte array (at most 2 GiB).
[<Literal>]
let DefaultLimit = 1073741824

/// Deflate's largest expansion (a 258-byte match coded in about two bits): no honest gzip stream
/// inflates by more, so a trailer that claims more is not believed when sizing a buffer.
[<Literal>]
let private MaxDeflateRatio = 1032L

/// The decompressed content of `bytes` (gzip or raw) read from `file`; refused, without inflating
/// the rest, as soon as it exceeds `limit` bytes.
let decompress (file: string) (limit: int) (bytes: byte[]) : byte[] =
    let fail problem = InvalidInput.about file problem
    if isGzip bytes then
        // The trailer's ISIZE (the length mod 2³²) only sizes the first buffer: it can lie.
        let declared = if bytes.Length >= 18 then BitConverter.ToUInt32(bytes, bytes.Length - 4) else 0u
        let content =
            try
                use input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress)
                InputFile.readAtMost limit (min (int64 declared) (MaxDeflateRatio * int64 bytes.Length)) input
            with :? InvalidDataException | :? EndOfStreamException as e ->
                fail $"corrupt gzip stream ({e.Message})"
        match content with
        | None -> fail $"decompresses to more than {limit} bytes, the most it may hold (a gzip bomb or the wrong file)"
        | Some content ->
            // .NET's GZipStream stops quietly at a truncated stream; the trailer's ISIZE of a whole file tells.
            if bytes.Length < 18 || declared <> uint32 content.LongLength then
                fail $"corrupt or truncated gzip stream ({content.LongLength} bytes decompressed, the trailer declares {declared})"
            content
    elif bytes.Length > limit then fail $"is {bytes.Length} bytes, more than the {limit} it may hold"
    else bytes

/// Parses decompressed IDX content; `file` only names the source in errors.
let parse (file: string) (content: byte[]) : IdxArray =
    let fail problem = InvalidInput.about file problem
    if content.Length < 4 then fail $"too short for an IDX header ({content.Length} bytes)"
    if content.[0] <> 0uy || content.[1] <> 0uy then
        fail $"bad magic number 0x{content.[0]:X2}{content.[1]:X2}{content.[2]:X2}{content.[3]:X2}: not an IDX file"
    if content.[2] <> UnsignedByte then fail $"data type 0x{content.[2]:X2} is not supported (only 0x08, unsigned byte)"
    let rank = int content.[3]
    if rank < 1 then fail "the header declares no dimensions"
    let header = 4 + 4 * rank
    if content.Length < header then fail $"truncated header: {rank} dimensions need {header} bytes, the file has {content.Length}"
    let dimensions = List.init rank (fun i -> BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(content, 4 + 4 * i, 4)))
    if dimensions |> List.exists (fun d -> d < 0) then fail $"negative dimension in {dimensions}"
    // A bigint, because 255 dimensions of up to 2³¹ − 1 overflow any machine integer.
    let expected = dimensions |> List.fold (fun n d -> n * bigint d) 1I
    let actual = content.Length - header
    if expected > bigint Array.MaxLength then
        fail $"the header's dimensions {dimensions} describe {expected} data bytes, more than any file this reader accepts; the file has {actual}"
    if bigint actual < expected then fail $"truncated: {actual} data bytes, the header's dimensions {dimensions} need {expected}"
    if bigint actual > expected then fail $"{bigint actual - expected} trailing bytes after the data"
    { Dimensions = dimensions; Data = content.[header..] }

/// Serialises an IDX array of unsigned bytes (raw, not compressed).
let serialise (array: IdxArray) : byte[] =
    let header = Array.zeroCreate<byte> (4 + 4 * array.Dimensions.Length)
    header.[2] <- UnsignedByte
    header.[3] <- byte array.Dimensions.Length
    array.Dimensions |> List.iteri (fun i d -> BinaryPrimitives.WriteInt32BigEndian(Span(header, 4 + 4 * i, 4), d))
    Array.append header array.Data

/// Compresses bytes with gzip.
let gzip (bytes: byte[]) : byte[] =
    use output = new MemoryStream()
    (use input = new GZipStream(output, CompressionLevel.Fastest, true)
     input.Write(bytes, 0, bytes.Length))
    output.ToArray()

/// The longest gzip file whose content is at most `limit` bytes: deflate's stored blocks add 5
/// bytes per 65,535, the gzip header and trailer 18, and 64 KiB is room for the optional name and
/// comment fields.
let private gzipCeiling (limit: int) =
    int (min (int64 limit + (int64 limit / 65535L + 1L) * 5L + 18L + 65536L) (int64 Array.MaxLength - 1L))

/// The decompressed content of the file at `path`, refused if it is more than `limit` bytes. Only
/// a regular file is opened, and no more of it is read than such content can take: a file too
/// long is refused by its length before it is read.
let readContent (limit: int) (path: string) : byte[] =
    let fail problem = InvalidInput.about path problem
    use stream =
        match InputFile.openRead path with
        | Ok stream -> stream
        | Error problem -> fail problem
    let bytes =
        try
            let length = stream.Length
            let magic = Array.zeroCreate<byte> 2
            let gzip = isGzip magic.[.. stream.ReadAtLeast(magic, 2, false) - 1]
            stream.Position <- 0L
            let most = if gzip then gzipCeiling limit else limit
            if length > int64 most then
                fail (
                    if gzip then $"is {length} bytes, more than a gzip file of at most {limit} bytes can be"
                    else $"is {length} bytes, more than the {limit} it may hold")
            match InputFile.readAtMost most length stream with
            | Some bytes -> bytes
            | None -> fail $"grew to more than {most} bytes while being read"
        with :? IOException | :? UnauthorizedAccessException as e -> fail $"cannot be read ({e.Message})"
    decompress path limit bytes

/// Reads and parses an IDX file, gzip-compressed or raw, of at most `DefaultLimit` bytes.
let read (path: string) : IdxArray = parse path (readContent DefaultLimit path)

/// The dimensions in the header of the IDX file at `path` (gzip-compressed or raw), read without
/// reading the data: a run's plan needs a data set's image size and count before it loads it.
/// The rest of the file is checked when it is read whole (`read`).
let readDimensions (path: string) : int list =
    let fail problem = InvalidInput.about path problem
    use file =
        match InputFile.openRead path with
        | Ok stream -> stream
        | Error problem -> fail problem
    try
        let magic = Array.zeroCreate<byte> 2
        let gzip = isGzip magic.[.. file.ReadAtLeast(magic, 2, false) - 1]
        file.Position <- 0L
        use content = if gzip then new GZipStream(file, CompressionMode.Decompress, true) :> Stream else file :> Stream
        let bytes (count: int) =
            let buffer = Array.zeroCreate<byte> count
            let read = content.ReadAtLeast(buffer, count, false)
            if read < count then fail $"too short for an IDX header ({read} of {count} bytes)"
            buffer
        let start = bytes 4
        if start.[0] <> 0uy || start.[1] <> 0uy then
            fail $"bad magic number 0x{start.[0]:X2}{start.[1]:X2}{start.[2]:X2}{start.[3]:X2}: not an IDX file"
        if start.[2] <> UnsignedByte then fail $"data type 0x{start.[2]:X2} is not supported (only 0x08, unsigned byte)"
        let rank = int start.[3]
        if rank < 1 then fail "the header declares no dimensions"
        let sizes = bytes (4 * rank)
        List.init rank (fun i -> BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(sizes, 4 * i, 4)))
    with :? IOException | :? InvalidDataException | :? UnauthorizedAccessException as e -> fail $"cannot be read ({e.Message})"
