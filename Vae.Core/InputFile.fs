/// Files a user names (data files, checkpoints) are read defensively: only regular files, because
/// opening a FIFO blocks until someone writes to it and /dev/zero never ends; and never more bytes
/// than the reader can use, because a file's length and a gzip trailer can both lie.
module Vae.Core.InputFile

open System
open System.IO
open System.Runtime.InteropServices

module private Native =
    // .NET reports no file type on Unix (FileAttributes says Normal for /dev/zero and for a FIFO),
    // so stat(2) is asked through .NET's own native shim: its FileStatus is laid out the same on
    // every Unix and architecture, with the mode as its second int32.
    [<DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")>]
    extern int stat([<MarshalAs(UnmanagedType.LPUTF8Str)>] string path, byte[] status)

/// What `path` is if it is not a regular file ("a directory", "a FIFO", ...); None for a regular
/// file, and for a path that cannot be examined (opening it then says why).
let private otherKind (path: string) : string option =
    if OperatingSystem.IsWindows() then
        match (try Some(File.GetAttributes path) with _ -> None) with
        | Some a when a.HasFlag FileAttributes.Directory -> Some "a directory"
        | Some a when a.HasFlag FileAttributes.Device -> Some "a device"
        | _ -> None
    else
        // FileStatus is 128 bytes today; the spare room keeps a future field from writing past it.
        let status = Array.zeroCreate<byte> 512
        if Native.stat (path, status) <> 0 then None
        else
            match BitConverter.ToInt32(status, 4) &&& 0xF000 with
            | 0x8000 -> None
            | 0x4000 -> Some "a directory"
            | 0x2000 -> Some "a character device"
            | 0x6000 -> Some "a block device"
            | 0x1000 -> Some "a FIFO"
            | 0xC000 -> Some "a socket"
            | _ -> Some "of an unknown kind"

/// The regular file at `path` opened for reading, or why it cannot be: "is not a regular file (a
/// FIFO)", "cannot be read (...)".
let openRead (path: string) : Result<FileStream, string> =
    match otherKind path with
    | Some kind -> Error $"is not a regular file ({kind})"
    | None ->
        try
            // No FileStream buffer: the readers ask for large blocks or for exactly what they need.
            Ok(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
        with
        | :? IOException
        | :? UnauthorizedAccessException
        | :? ArgumentException
        | :? NotSupportedException as e -> Error $"cannot be read ({e.Message})"

/// All of `stream`, or None as soon as it has given more than `limit` bytes: a long file or a gzip
/// bomb is never held whole. `expected` (a file's length, a gzip trailer's size) sizes the first
/// buffer, so that a truthful hint costs no copy and a false one at most `limit` + 1 bytes.
let readAtMost (limit: int) (expected: int64) (stream: Stream) : byte[] option =
    if limit < 0 || limit >= Array.MaxLength then
        invalidArg (nameof limit) $"must be between 0 and {Array.MaxLength - 1}, was {limit}"
    let probe = Array.zeroCreate<byte> 1
    let rec fill (buffer: byte[]) (length: int) =
        if length > limit then None
        elif length < buffer.Length then
            match stream.Read(buffer, length, buffer.Length - length) with
            | 0 -> Some(if length = buffer.Length then buffer else buffer.[.. length - 1])
            | n -> fill buffer (length + n)
        else
            // A full buffer: one more byte tells the end of the stream from a longer one without
            // growing (and copying) the buffer that a truthful hint sized exactly.
            match stream.Read(probe, 0, 1) with
            | 0 -> Some buffer
            | _ ->
                let grown = Array.zeroCreate<byte> (int (min (2L * int64 buffer.Length + 1L) (int64 limit + 1L)))
                Buffer.BlockCopy(buffer, 0, grown, 0, length)
                grown.[length] <- probe.[0]
                fill grown (length + 1)
    fill (Array.zeroCreate<byte> (int (Math.Clamp(expected, 0L, int64 limit + 1L)))) 0
