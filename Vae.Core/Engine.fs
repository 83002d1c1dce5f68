/// Loading the TorchSharp engine. TorchSharp 0.107's native shim, libLibTorchSharp.so, was built
/// with GCC 13 and so declares a need for GLIBCXX_3.4.32, which the libstdc++ of Debian 12 and
/// Ubuntu 22.04 lacks. The only symbol bound to that version, std::ios_base_library_init(), is a
/// marker GCC 13's <iostream> emits to pull in the new library; nothing calls it (readelf -r shows
/// no relocation against it). Marking that one version need weak (VER_FLG_WEAK) lets the dynamic
/// loader accept the shim; on hosts that have the version the flag changes nothing.
/// See README.md, "The engine on older Linux hosts".
module Vae.Core.Engine

open System
open System.IO
open System.Reflection
open System.Runtime.InteropServices
open System.Text
open System.Text.RegularExpressions
open TorchSharp

/// The engine could not be loaded; the message names the library and the reason.
type EngineLoadException(message: string, inner: exn) =
    inherit Exception(message, inner)

/// Version needs (ELF SHT_GNU_verneed) of a 64-bit little-endian shared object, read and patched
/// as bytes: a pure function of the file's content.
module VersionNeeds =
    /// One Elf64_Vernaux entry: the file that must provide a version, the version, its flags, and
    /// where its vna_flags field lies in the file.
    type Need = { File: string; Version: string; Flags: uint16; FlagsOffset: int }

    /// VER_FLG_WEAK: a missing version is a warning for the dynamic loader, not an error.
    [<Literal>]
    let Weak = 0x2us

    let private u16 (b: byte[]) o = BitConverter.ToUInt16(b, o)
    let private u32 (b: byte[]) o = BitConverter.ToUInt32(b, o)
    let private u64 (b: byte[]) o = BitConverter.ToUInt64(b, o)

    let private cString (b: byte[]) (o: int) =
        let e = Array.IndexOf(b, 0uy, o)
        Encoding.ASCII.GetString(b, o, e - o)

    /// Every version need of the ELF image `elf`, in file order.
    let read (elf: byte[]) : Need list =
        let isElf64Le =
            elf.Length >= 64 && elf.[0] = 0x7Fuy && elf.[1] = byte 'E' && elf.[2] = byte 'L'
            && elf.[3] = byte 'F' && elf.[4] = 2uy && elf.[5] = 1uy
        if not isElf64Le then invalidArg (nameof elf) "not a 64-bit little-endian ELF file"
        let shoff = int (u64 elf 0x28)
        let shentsize = int (u16 elf 0x3A)
        let section i = shoff + i * shentsize
        let sections = List.init (int (u16 elf 0x3C)) section
        let offsetOf s = int (u64 elf (s + 0x18))
        match sections |> List.tryFind (fun s -> u32 elf (s + 4) = 0x6ffffffeu) with
        | None -> []
        | Some verneed ->
            let strtab = offsetOf (section (int (u32 elf (verneed + 0x28))))
            let name o = cString elf (strtab + int o)
            // Elf64_Verneed { u16 vn_version; u16 vn_cnt; u32 vn_file; u32 vn_aux; u32 vn_next }
            // Elf64_Vernaux { u32 vna_hash; u16 vna_flags; u16 vna_other; u32 vna_name; u32 vna_next }
            let rec auxes file o count =
                if count = 0 then []
                else
                    let need = { File = file; Version = name (u32 elf (o + 8)); Flags = u16 elf (o + 4); FlagsOffset = o + 4 }
                    need :: auxes file (o + int (u32 elf (o + 12))) (count - 1)
            let rec entries o =
                let here = auxes (name (u32 elf (o + 4))) (o + int (u32 elf (o + 8))) (int (u16 elf (o + 2)))
                match u32 elf (o + 12) with
                | 0u -> here
                | next -> here @ entries (o + int next)
            entries (offsetOf verneed)

    /// A copy of `elf` in which the need for `version` from `file` is weak, or None when the image
    /// has no such need.
    let weaken (file: string) (version: string) (elf: byte[]) : byte[] option =
        read elf
        |> List.tryFind (fun n -> n.File = file && n.Version = version)
        |> Option.map (fun need ->
            let patched = Array.copy elf
            BitConverter.GetBytes(need.Flags ||| Weak).CopyTo(patched, need.FlagsOffset)
            patched)

/// The only version need this module weakens (see the module comment for why it is safe).
[<Literal>]
let WeakenableVersion = "GLIBCXX_3.4.32"

[<Literal>]
let private ShimName = "LibTorchSharp"

[<Literal>]
let private ShimFile = "libLibTorchSharp.so"

/// The weakened copy sits beside the original so that the shim's RUNPATH ($ORIGIN) still finds
/// libtorch; the package cache is never written.
[<Literal>]
let PatchedShimFile = "libLibTorchSharp.weak-glibcxx.so"

let private torchSharpAssembly = typeof<torch>.Assembly

/// Folders where the host looks for native libraries of this application, then TorchSharp's own.
let private nativeSearchDirectories () =
    let fromHost =
        match AppContext.GetData "NATIVE_DLL_SEARCH_DIRECTORIES" with
        | :? string as dirs -> dirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries) |> List.ofArray
        | _ -> []
    let beside = Path.GetDirectoryName torchSharpAssembly.Location
    fromHost @ [ beside; Path.Combine(beside, "runtimes", RuntimeInformation.RuntimeIdentifier, "native") ]

/// The path of TorchSharp's shim as the application ships it, if it can be found.
let shimPath () =
    nativeSearchDirectories () |> List.map (fun d -> Path.Combine(d, ShimFile)) |> List.tryFind File.Exists

/// Where the shim and libtorch are when TorchSharp is loaded straight from the NuGet packages
/// folder, as F# Interactive's `#r "nuget: TorchSharp-cpu, …"` does: TorchSharp.dll in
/// torchsharp/<version>/lib/<framework>/, the shim in torchsharp/<version>/runtimes/<rid>/native/,
/// libtorch in libtorch-cpu-<rid>/<version>/runtimes/<rid>/native/ (the highest version there).
type PackageLayout = { Shim: string; Libtorch: string }

let packageLayout () : PackageLayout option =
    let rid = RuntimeInformation.RuntimeIdentifier
    let package = Path.GetFullPath(Path.Combine(Path.GetDirectoryName torchSharpAssembly.Location, "..", ".."))
    let shim = Path.Combine(package, "runtimes", rid, "native", ShimFile)
    let libtorchPackage = Path.GetFullPath(Path.Combine(package, "..", "..", $"libtorch-cpu-{rid}"))
    let versionOf (dir: string) =
        match Version.TryParse(Path.GetFileName dir) with
        | true, v -> v
        | _ -> Version()
    let libtorch =
        if Directory.Exists libtorchPackage then
            Directory.GetDirectories libtorchPackage
            |> Array.sortByDescending versionOf
            |> Array.map (fun d -> Path.Combine(d, "runtimes", rid, "native"))
            |> Array.tryFind (fun d -> File.Exists(Path.Combine(d, "libtorch.so")))
        else None
    match File.Exists shim, libtorch with
    | true, Some dir -> Some { Shim = shim; Libtorch = dir }
    | _ -> None

/// Where a weakened copy of the shim of the packages folder goes (never into the packages folder):
/// $XDG_CACHE_HOME or ~/.cache, vae-dotnet/native/<the shim's SHA-256, 16 digits>.
let private patchedDirectoryFor (shim: string) =
    let hash = Convert.ToHexString(Security.Cryptography.SHA256.HashData(File.ReadAllBytes shim)).Substring(0, 16).ToLowerInvariant()
    UserCache.folder [ "native"; hash ]

let private missingVersion (loaderMessage: string) =
    let m = Regex.Match(loaderMessage, @"version `([^']+)' not found")
    if m.Success then Some m.Groups.[1].Value else None

let private fail (path: string) (reason: string) (inner: exn) =
    raise (EngineLoadException($"TorchSharp's native library {ShimFile} ({path}) cannot be loaded: {reason}", inner))

/// Writes `bytes` to `path` unless the file already holds exactly them; atomic for concurrent
/// processes (write aside, then rename).
let private writeIfChanged (path: string) (bytes: byte[]) =
    if not (File.Exists path && File.ReadAllBytes path = bytes) then
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        let temporary = $"{path}.{Environment.ProcessId}.tmp"
        File.WriteAllBytes(temporary, bytes)
        File.Move(temporary, path, true)

/// Loads the shim at `path`; if the host's libstdc++ lacks the version it asks for, a copy with
/// that need made weak, written into `patchedDirectory`.
let private loadShim (patchedDirectory: string) (path: string) : nativeint =
    try NativeLibrary.Load path
    with :? DllNotFoundException as original ->
        match missingVersion original.Message with
        | Some WeakenableVersion ->
            match VersionNeeds.weaken "libstdc++.so.6" WeakenableVersion (File.ReadAllBytes path) with
            | None -> fail path original.Message original
            | Some patched ->
                let patchedPath = Path.Combine(patchedDirectory, PatchedShimFile)
                try
                    writeIfChanged patchedPath patched
                    NativeLibrary.Load patchedPath
                with e ->
                    fail path $"libstdc++.so.6 lacks {WeakenableVersion}, and a copy with that need made weak did not load from {patchedPath}: {e.Message}" e
        | Some other -> fail path $"libstdc++.so.6 (or another library it needs) lacks version {other}: {original.Message}" original
        | None -> fail path original.Message original

/// libtorch's libraries loaded from the packages folder, by the names TorchSharp asks for.
let private libtorchHandles = Collections.Concurrent.ConcurrentDictionary<string, nativeint>()

/// The shim as the application ships it (its weakened copy beside it, where its RUNPATH finds
/// libtorch); else the shim of the packages folder, libtorch loaded first from its package (the
/// shim's needs are then met by the libraries already loaded) and the weakened copy in the
/// per-user cache.
let private shimHandle =
    lazy (
        match shimPath () with
        | Some path -> Some(loadShim (Path.GetDirectoryName path) path)
        | None ->
            match packageLayout () with
            | None -> None
            | Some layout ->
                // libtorch.so pulls in libtorch_cpu.so and libc10.so through its RUNPATH ($ORIGIN).
                for library in [ "libc10.so"; "libtorch_cpu.so"; "libtorch.so" ] do
                    let path = Path.Combine(layout.Libtorch, library)
                    libtorchHandles.[Path.GetFileNameWithoutExtension(library).Substring 3] <- NativeLibrary.Load path
                Some(loadShim (patchedDirectoryFor layout.Shim) layout.Shim))

let private resolver =
    DllImportResolver(fun name _ _ ->
        match name, shimHandle.Force() with
        | ShimName, Some handle -> handle
        | _ ->
            match libtorchHandles.TryGetValue name with
            | true, handle -> handle
            | _ -> 0n)

/// glibc's allocator settings (mallopt(3)).
module private Libc =
    /// M_MMAP_THRESHOLD: allocations of at least this many bytes get their own mapping.
    [<Literal>]
    let MmapThreshold = -3

    [<DllImport("libc", EntryPoint = "mallopt")>]
    extern int mallopt(int parameter, int value)

    [<DllImport("libc", EntryPoint = "malloc_trim")>]
    extern int malloc_trim(unativeint pad)

    /// setenv(3): the process's native environment, which libtorch reads (.NET's
    /// Environment.SetEnvironmentVariable does not change it on Unix).
    [<DllImport("libc", EntryPoint = "setenv")>]
    extern int setenv(string name, string value, int overwrite)

/// The variable with which libtorch's CPU allocator asks the kernel for transparent huge pages
/// (madvise MADV_HUGEPAGE) on every tensor of 2 MB or more. Tensors of 4 MB and more get mappings of
/// their own (`OwnMappingBytes`), whose pages the kernel hands over one fault at a time: 7–15 µs
/// per 4 KB page on the machine this was measured on (a Firecracker VM), so a new 60 MB tensor of
/// the kNN probe took 0.10–0.23 s before it held a value, and with huge pages 0.01 s once the
/// kernel reuses them. The measurements (kNN distances, IWAE batches, PCA chunks) allocate such
/// tensors by the hundred: the shipped study took 16 instead of 22 minutes. The engine sets the
/// variable to 1 unless it is set already (THP_MEM_ALLOC_ENABLE=0 turns it off). It changes where
/// tensors live, never a value.
[<Literal>]
let HugePagesVariable = "THP_MEM_ALLOC_ENABLE"

/// libtorch takes tensors' memory from malloc. glibc serves large blocks from their own mappings,
/// returned to the system on free, but after the first such free it raises that threshold to the
/// block's size (up to 32 MB) and later blocks come from its heaps, which keep freed memory: a run
/// held on to hundreds of megabytes of freed evaluation batches and chunks. A fixed threshold
/// keeps blocks of 4 MB and more (an evaluation batch is 7.8 MB; a training step's largest
/// tensor 0.2 MB) out of the heaps.
[<Literal>]
let private OwnMappingBytes = 4 * 1024 * 1024

/// A Debug build of this library (e.g. a project reference under `dotnet run`'s default
/// configuration) trains about 2.5 times slower (measured: 7.3–7.7 s against 2.6–3.1 s per epoch):
/// said once, on stderr, when the engine loads.
let private warnIfDebug () =
    let assembly = Reflection.Assembly.GetExecutingAssembly()
    match assembly.GetCustomAttributes(typeof<Diagnostics.DebuggableAttribute>, false) with
    | [| :? Diagnostics.DebuggableAttribute as d |] when d.IsJITOptimizerDisabled ->
        eprintfn "warning: Vae.Core is a Debug build (%s): training runs about 2.5 times slower; build or run with -c Release" assembly.Location
    | _ -> ()

/// The name under which this assembly's P/Invokes (`Blas`) ask for libtorch's CPU library, which
/// holds its copy of MKL.
[<Literal>]
let LibtorchCpu = "libtorch_cpu"

/// The resolver of this assembly's P/Invokes: `LibtorchCpu` is the libtorch_cpu.so that TorchSharp
/// loaded (found by its soname among the loaded libraries, never searched for), anything else the
/// host's default search.
let private ownResolver =
    DllImportResolver(fun name _ _ ->
        if name <> LibtorchCpu then 0n
        else
            match NativeLibrary.TryLoad "libtorch_cpu.so" with
            | true, handle -> handle
            | _ -> 0n)

let private loaded =
    lazy (
        warnIfDebug ()
        if RuntimeInformation.IsOSPlatform OSPlatform.Linux then
            NativeLibrary.SetDllImportResolver(Assembly.GetExecutingAssembly(), ownResolver)
            // Before libtorch's first allocation, which reads it once (`HugePagesVariable`).
            try Libc.setenv (HugePagesVariable, "1", 0) |> ignore
            with :? DllNotFoundException | :? EntryPointNotFoundException -> ()
            try Libc.mallopt (Libc.MmapThreshold, OwnMappingBytes) |> ignore
            with :? DllNotFoundException | :? EntryPointNotFoundException -> () // not glibc: its own allocator policy
            // Load (or fail) here, so that a failure is reported in our words rather than after
            // TorchSharp's own fallbacks.
            shimHandle.Force() |> ignore
            NativeLibrary.SetDllImportResolver(torchSharpAssembly, resolver)
        try torch.InitializeDeviceType DeviceType.CPU
        with e -> raise (EngineLoadException($"TorchSharp could not initialise its CPU backend: {e.Message}", e)))

/// Hands the free pages of glibc's heaps back to the system (malloc_trim(3)). Blocks under
/// `OwnMappingBytes` come from those heaps, one per thread that allocates; freed, they stay resident
/// until reused.
let releaseFreedMemory () =
    if RuntimeInformation.IsOSPlatform OSPlatform.Linux then
        try Libc.malloc_trim 0un |> ignore
        with :? DllNotFoundException | :? EntryPointNotFoundException -> () // not glibc

/// Makes sure TorchSharp's native engine is loaded; safe to call any number of times. Every
/// Vae.Core function that creates tensors from nothing calls it first.
let ensureLoaded () = loaded.Force()

/// Sets the number of threads libtorch uses for intra-op parallelism.
let setThreads (threads: int) =
    ensureLoaded ()
    if threads < 1 then invalidArg (nameof threads) "must be at least 1"
    torch.set_num_threads threads
