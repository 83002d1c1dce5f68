/// The output folder of a run: claimed for one run at a time, written through a staging folder
/// beside it, and moved into place only when complete. On Linux the claim is an advisory lock
/// (flock) held by the process, so a run that is killed releases it, and the next run recognises
/// the staging folder it left as stale and removes it.
module Vae.Core.RunFolder

open System
open System.IO
open System.Runtime.InteropServices
open System.Security.Cryptography

module private Native =
    [<DllImport("libc", EntryPoint = "mkdir", SetLastError = true)>]
    extern int mkdir(string path, uint32 mode)

    [<DllImport("libc", EntryPoint = "open", SetLastError = true)>]
    extern int openPath(string path, int flags)

    [<DllImport("libc", EntryPoint = "flock", SetLastError = true)>]
    extern int flock(int fd, int operation)

    [<DllImport("libc", EntryPoint = "close", SetLastError = true)>]
    extern int close(int fd)

    [<DllImport("libc", EntryPoint = "rename", SetLastError = true)>]
    extern int rename(string source, string target)

    let EEXIST = 17
    let ENOTEMPTY = 39
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

/// The staging folders of runs into `folder` are named `.NAME.incomplete-RANDOM` beside it.
let private stagingPrefix (folder: string) = $".{Path.GetFileName folder}.incomplete-"

/// A claimed output folder and its staging folder; dispose to give them up (see `publish`).
type Claim =
    private
        { folder: string
          staging: string
          created: string list
          folderLock: FolderLock
          stagingLock: FolderLock
          /// Set once the staging folder must not be deleted: published, or kept because it could not be.
          mutable keep: bool }

    /// The output folder.
    member c.Folder = c.folder
    /// Where the run writes until it is complete.
    member c.Staging = c.staging

    /// Unless published: deletes the staging folder, and the output folder and its parents if this
    /// claim created them and they are still empty. Releases the locks.
    member c.Abandon() =
        if not c.keep then
            if Directory.Exists c.staging then Directory.Delete(c.staging, true)
            // Deepest first; a folder that something else has put files in stays.
            for dir in c.created do
                try
                    if Directory.Exists dir && Seq.isEmpty (Directory.EnumerateFileSystemEntries dir) then Directory.Delete dir
                with :? IOException | :? UnauthorizedAccessException -> ()
        c.stagingLock.Release()
        c.folderLock.Release()

    interface IDisposable with
        member c.Dispose() = c.Abandon()

/// Refuses, without writing anything, an output folder that cannot hold a new run: an empty path,
/// a symbolic link, a file, or a folder that is not empty. A missing folder is fine.
let check (folder: string) : unit =
    if String.IsNullOrWhiteSpace folder then InvalidInput.about "output folder \"\"" "is empty: give a folder"
    if isLink folder then InvalidInput.about $"output folder {folder}" "is a symbolic link; give the folder itself"
    if File.Exists folder then InvalidInput.about $"output folder {folder}" "is a file"
    if Directory.Exists folder && not (Directory.EnumerateFileSystemEntries folder |> Seq.isEmpty) then
        InvalidInput.about $"output folder {folder}" "already exists and is not empty"

/// Removes the staging folders that runs into `folder` left when they were killed: those whose lock
/// no process holds. Returns the folders removed.
let sweepStale (folder: string) : string list =
    let parent = Path.GetDirectoryName folder
    if isNull parent || not (Directory.Exists parent) then []
    else
        [ for candidate in Directory.EnumerateDirectories(parent, stagingPrefix folder + "*") do
              if not (isLink candidate) then
                  match tryLock candidate with
                  | Ok l ->
                      use _ = l
                      Directory.Delete(candidate, true)
                      yield candidate
                  | Error _ -> () ]

/// Claims `folder` for a run that will write about `neededBytes`: creates its missing parents and
/// itself, takes its lock (refusing a folder another run holds), removes stale staging folders,
/// checks the free space, and creates a staging folder beside it with an unpredictable name,
/// exclusively (never an existing folder or link planted at that name). Everything it created is
/// removed again if it refuses.
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
        check folder
        sweepStale folder |> ignore
        let free = DriveInfo(folder).AvailableFreeSpace
        if free < neededBytes then
            fail $"has {float free / 1e6:F1} MB free on its file system; the run needs about {float neededBytes / 1e6:F1} MB"
        let parent = Path.GetDirectoryName folder
        let rec stage attempts =
            let candidate = Path.Combine(parent, stagingPrefix folder + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes 8))
            match makeDirectory candidate 0o700u with
            | Ok() -> candidate
            | Error error when error = Native.EEXIST && attempts > 0 -> stage (attempts - 1)
            | Error error -> fail $"cannot be written: a staging folder beside it cannot be created ({describe error})"
        let staging = stage 3
        let stagingLock =
            match tryLock staging with
            | Ok l -> l
            | Error reason ->
                Directory.Delete staging
                fail $"cannot be written: its staging folder cannot be locked ({reason})"
        { folder = folder
          staging = staging
          created = List.ofSeq created |> List.rev
          folderLock = folderLock
          stagingLock = stagingLock
          keep = false }
    with _ ->
        undo ()
        reraise ()

/// Moves the complete run into place (the output folder, still empty, is replaced in one rename) and
/// releases the claim. If another program wrote into the output folder meanwhile, the run stays in
/// its staging folder and the error says where.
let publish (claim: Claim) : unit =
    // The staging folder was private (0700) while written; the run gets the output folder's mode,
    // which the user's umask (or the user) chose.
    if not (OperatingSystem.IsWindows()) then File.SetUnixFileMode(claim.Staging, File.GetUnixFileMode claim.Folder)
    let failed =
        if OperatingSystem.IsWindows() then
            try Directory.Delete claim.Folder; Directory.Move(claim.Staging, claim.Folder); None
            with :? IOException as e -> Some e.Message
        elif Native.rename (claim.Staging, claim.Folder) = 0 then None
        else
            let error = errno ()
            Some(if error = Native.ENOTEMPTY || error = Native.EEXIST then "was written by another program during the run" else describe error)
    claim.keep <- true
    claim.Abandon()
    match failed with
    | None -> ()
    | Some reason -> InvalidInput.about $"output folder {claim.Folder}" $"cannot take the complete run ({reason}); it is kept in {claim.Staging}"
