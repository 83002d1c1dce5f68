/// The IDX file format of (Fashion-)MNIST, gzip-compressed or raw. Big-endian: two zero bytes,
/// a type byte (0x08 = unsigned byte), the number of dimensions, one 32-bit size per dimension,
/// then the data row-major, one byte per value.
module Vae.Core.Idx

open System
open System.IO
open System.IO.Compression
open System.Buffers.Binary

/// A data file is unusable; the message names the file and what is wrong with it.
type DataFileException(file: string, problem: string) =
    inherit Exception($"{file}: {problem}")
    /// The file at fault.
    member _.File = file
    /// What is wrong with it.
    member _.Problem = problem

/// The content of an IDX file of unsigned bytes.
type IdxArray = { Dimensions: int list; Data: byte[] }

[<Literal>]
let UnsignedByte = 0x08uy

let private isGzip (bytes: byte[]) = bytes.Length >= 2 && bytes.[0] = 0x1Fuy && bytes.[1] = 0x8Buy

/// The decompressed content of `bytes` (gzip or raw) read from `file`.
let decompress (file: string) (bytes: byte[]) : byte[] =
    if isGzip bytes then
        try
            use input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress)
            use output = new MemoryStream()
            input.CopyTo output
            output.ToArray()
        with :? InvalidDataException | :? EndOfStreamException as e ->
            raise (DataFileException(file, $"corrupt gzip stream ({e.Message})"))
        |> fun content ->
            // .NET's GZipStream stops quietly at a truncated stream; the trailer's ISIZE (length
            // mod 2³²) of a whole file tells.
            let declared = BitConverter.ToUInt32(bytes, bytes.Length - 4)
            if bytes.Length < 18 || declared <> uint32 content.LongLength then
                raise (DataFileException(file, $"corrupt or truncated gzip stream ({content.LongLength} bytes decompressed, the trailer declares {declared})"))
            content
    else bytes

/// Parses decompressed IDX content; `file` only names the source in errors.
let parse (file: string) (content: byte[]) : IdxArray =
    let fail problem = raise (DataFileException(file, problem))
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
    let expected = dimensions |> List.fold (fun n d -> n * int64 d) 1L
    let actual = int64 (content.Length - header)
    if actual < expected then fail $"truncated: {actual} data bytes, the header's dimensions {dimensions} need {expected}"
    if actual > expected then fail $"{actual - expected} trailing bytes after the data"
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

/// Reads and parses an IDX file, gzip-compressed or raw.
let read (path: string) : IdxArray =
    let bytes =
        try File.ReadAllBytes path
        with :? IOException | :? UnauthorizedAccessException as e -> raise (DataFileException(path, $"cannot be read ({e.Message})"))
    parse path (decompress path bytes)
