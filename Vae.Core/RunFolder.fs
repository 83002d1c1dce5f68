/// The output folder of a run: claimed for one run at a time, and written from the start (its
/// `run.json` says whether the run is running, interrupted, complete or failed; see RunRecord). On
/// Linux the claim is an advisory lock (flock) held by the process, so a run that is killed
/// releases it, and `resume` can tell a killed run (no holder) from one still running.
module Vae.Core.RunFolder

open System
open System.IO
open System.Runtime.InteropServices

module private Native =
    [<DllImport("libc", EntryPoint = "mkdir", SetLastError = true)>]
    extern int mkdir(string path, uint32 mode)

    [<DllImport("libc", EntryPoint = "open", SetLastError = true)>]
    extern int openPath(string path, int flags)

    [<DllImport("libc", EntryPoint = "flock", SetLastError = true)>]
    extern int flock(int fd, int operation)

    [<DllImport("libc", EntryPoint = "close", SetLastError = true)>]
    extern int close(int fd)

    let EEXIST = 17
    let EWOULDBLOCK = 11
    let LOCK_EX_NB = 2 ||| 4

    /// O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, whose values differ between Linux's
    /// architectures; None where this module does not know them (no lock is taken there).
    let directoryFlags =
        if not (RuntimeInformation.IsOSPlatform OSPlatform.Linux) then None
        else
            match RuntimeInformation.ProcessArchitecture with
            | Architecture.X64 -> Some(0x10000 ||| 0x20000 ||| 0x80000)
            | Architecture.Arm64 -> Some(0x4000 ||| 0x8000 ||| 0x80000)
            | _ -> None

let private errno () = Marshal.GetLastPInvokeError()

let private describe (error: int) = Marshal.GetPInvokeErrorMessage error

/// A lock on a folder, held until disposed or until the process ends (however it ends).
type private FolderLock(fd: int) =
    member _.Release() = if fd >= 0 then Native.close fd |> ignore
    interface IDisposable with
        member l.Dispose() = l.Release()

/// Takes the lock of `folder` without waiting: Ok, Error "held" when another process holds it, or
/// Error with the reason when the folder cannot be opened (a symbolic link is never followed).
let private tryLock (folder: string) : Result<FolderLock, string> =
    match Native.directoryFlags with
    | None -> Ok(new FolderLock(-1))
    | Some flags ->
        let fd = Native.openPath (folder, flags)
        if fd < 0 then Error(describe (errno ()))
        elif Native.flock (fd, Native.LOCK_EX_NB) = 0 then Ok(new FolderLock(fd))
        else
            let error = errno ()
            Native.close fd |> ignore
            Error(if error = Native.EWOULDBLOCK then "held" else describe error)

/// True when `path` is a symbolic link (to a file or a folder, or dangling).
let private isLink (path: string) =
    try not (isNull (FileInfo(path).LinkTarget)) with :? IOException | :? UnauthorizedAccessException -> false

/// mkdir(2): fails when anything, a link included, is at `path`. Windows has no such call in .NET;
/// there the folder is created unless it exists.
let private makeDirectory (path: string) (mode: uint32) : Result<unit, int> =
    if OperatingSystem.IsWindows() then
        if Directory.Exists path || File.Exists path then Error Native.EEXIST
        else Directory.CreateDirectory path |> ignore; Ok()
    elif Native.mkdir (path, mode) = 0 then Ok()
    else Error(errno ())

/// A run folder held by this process; dispose to release it (the folder and what the run wrote
/// stay: a run folder is the run's store, see `JobStore`).
type Claim =
    private
        { folder: string
          folderLock: FolderLock }

    /// The run folder (a full path).
    member c.Folder = c.folder

    /// Releases the folder's lock.
    member c.Release() = c.folderLock.Release()

    interface IDisposable with
        member c.Dispose() = c.Release()

/// Refuses, without writing anything, an output folder that cannot hold a new run: an empty path,
/// a symbolic link, a file, a folder another run holds, or a folder that is not empty (one that
/// holds a run is named as such). A missing folder is fine.
let check (folder: string) : unit =
    if String.IsNullOrWhiteSpace folder then InvalidInput.about "output folder \"\"" "is empty: give a folder"
    if isLink folder then InvalidInput.about $"output folder {folder}" "is a symbolic link; give the folder itself"
    if File.Exists folder then InvalidInput.about $"output folder {folder}" "is a file"
    if Directory.Exists folder && not (Directory.EnumerateFileSystemEntries folder |> Seq.isEmpty) then
        match tryLock folder with
        | Error "held" -> InvalidInput.about $"output folder {folder}" "is in use by another run"
        | locked ->
            match locked with
            | Ok l -> l.Release()
            | Error _ -> ()
            if File.Exists(Path.Combine(folder, "run.json")) then
                InvalidInput.about $"output folder {folder}" "already holds a run; continue it with resume, or give another folder"
            InvalidInput.about $"output folder {folder}" "already exists and is not empty"

/// Claims `folder` for a new run that will write about `neededBytes`: creates its missing parents
/// and itself, takes its lock (refusing a folder another run holds), and checks the free space.
/// Everything it created is removed again if it refuses; once it returns, the run writes straight
/// into the folder (its `run.json` says whether the run is complete).
let claim (folder: string) (neededBytes: int64) : Claim =
    check folder
    let folder = Path.GetFullPath folder
    let fail problem = InvalidInput.about $"output folder {folder}" problem
    let missing =
        let rec up (dir: string) acc =
            if isNull dir || Directory.Exists dir || File.Exists dir then acc else up (Path.GetDirectoryName dir) (dir :: acc)
        up folder []
    let created = Collections.Generic.List<string>()
    let mutable locks: FolderLock list = []
    let undo () =
        for l in locks do l.Release()
        for dir in Seq.rev created do
            try Directory.Delete dir with :? IOException | :? UnauthorizedAccessException -> ()
    try
        for dir in missing do
            match makeDirectory dir 0o777u with
            | Ok() -> created.Add dir
            | Error error when error = Native.EEXIST -> ()
            | Error error -> fail (if dir = folder then $"cannot be created ({describe error})" else $"cannot be created: {dir}: {describe error}")
        let folderLock =
            match tryLock folder with
            | Ok l -> l
            | Error "held" -> fail "is in use by another run"
            | Error reason -> fail $"cannot be opened: {reason}"
        locks <- [ folderLock ]
        // Checked again under the lock: another program may have written there in the meantime.
        if not (Directory.EnumerateFileSystemEntries folder |> Seq.isEmpty) then fail "already exists and is not empty"
        let free = DriveInfo(folder).AvailableFreeSpace
        if free < neededBytes then
            fail $"has {float free / 1e6:F1} MB free on its file system; the run needs about {float neededBytes / 1e6:F1} MB"
        { folder = folder; folderLock = folderLock }
    with _ ->
        undo ()
        reraise ()

/// Takes the lock of the existing run folder `folder` (to resume it): refuses a path that is not a
/// folder, a symbolic link, and a folder another process holds.
let claimExisting (folder: string) : Claim =
    if String.IsNullOrWhiteSpace folder then InvalidInput.about "run folder \"\"" "is empty: give a folder"
    if isLink folder then InvalidInput.about $"run folder {folder}" "is a symbolic link; give the folder itself"
    if File.Exists folder then InvalidInput.about $"run folder {folder}" "is a file, not a run folder"
    if not (Directory.Exists folder) then InvalidInput.about $"run folder {folder}" "does not exist"
    let folder = Path.GetFullPath folder
    match tryLock folder with
    | Ok l -> { folder = folder; folderLock = l }
    | Error "held" -> InvalidInput.about $"run folder {folder}" "is in use by another run"
    | Error reason -> InvalidInput.about $"run folder {folder}" $"cannot be opened: {reason}"

/// Makes sure the run folder `folder` of a sharded run exists (creating it and its parents), without
/// locking it: every shard writes into it at once, each its own jobs' files (`Shards`). Refuses an
/// empty path, a symbolic link and a file. Returns the folder's full path.
let join (folder: string) : string =
    if String.IsNullOrWhiteSpace folder then InvalidInput.about "output folder \"\"" "is empty: give the run folder every shard writes"
    if isLink folder then InvalidInput.about $"output folder {folder}" "is a symbolic link; give the folder itself"
    if File.Exists folder then InvalidInput.about $"output folder {folder}" "is a file"
    let folder = Path.GetFullPath folder
    try Directory.CreateDirectory folder |> ignore
    with :? IOException | :? UnauthorizedAccessException as e -> InvalidInput.about $"output folder {folder}" $"cannot be created: {e.Message}"
    folder

/// The folder of shard `index` (0-based) of a sharded run, relative to the run folder: shards/<index + 1>.
let shardFolder (index: int) = Path.Combine("shards", string (index + 1))

/// Claims shard `index` (0-based) of `count` of the sharded run in `folder` for this process (its
/// folder `shardFolder`, created if missing, locked): refuses a shard another process is running.
let claimShard (folder: string) (index: int) (count: int) : Claim =
    let path = Path.Combine(folder, shardFolder index)
    Directory.CreateDirectory path |> ignore
    match tryLock path with
    | Ok l -> { folder = folder; folderLock = l }
    | Error "held" -> InvalidInput.about $"shard {index + 1}/{count} of the run in {folder}" "is running in another process"
    | Error reason -> InvalidInput.about $"run folder {folder}" $"cannot be opened: {path}: {reason}"

/// Takes the lock of the run folder `folder` if no process holds it (a shard that finds every job
/// finished merges the run unless another process is doing so): None when one does.
let tryClaimExisting (folder: string) : Claim option =
    match tryLock folder with
    | Ok l -> Some { folder = folder; folderLock = l }
    | Error "held" -> None
    | Error reason -> InvalidInput.about $"run folder {folder}" $"cannot be opened: {reason}"
