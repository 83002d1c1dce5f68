module Vae.Tests.EngineTests

#nowarn "9" // a tensor's address, to find its mapping in /proc/self/smaps

open System.IO
open System.Runtime.InteropServices
open Expecto
open TorchSharp
open Vae.Core

/// getenv(3): the native environment, which libtorch reads (not .NET's copy of it).
[<DllImport("libc", EntryPoint = "getenv")>]
extern nativeint private getenv(string name)

/// The kernel's transparent-huge-page mode ("always", "madvise" or "never"; "never" when it has none).
let private hugePageMode () =
    let file = "/sys/kernel/mm/transparent_hugepage/enabled"
    if not (File.Exists file) then "never"
    else
        let text = File.ReadAllText file
        let start = text.IndexOf '['
        text.Substring(start + 1, text.IndexOf(']', start) - start - 1)

/// The AnonHugePages (kB) of the mapping in /proc/self/smaps that holds `address`.
let private hugePagesAt (address: uint64) =
    let lines = File.ReadAllLines "/proc/self/smaps"
    let header (line: string) =
        let range = line.Split(' ').[0].Split('-')
        if range.Length = 2 then
            match System.UInt64.TryParse(range.[0], System.Globalization.NumberStyles.HexNumber, null), System.UInt64.TryParse(range.[1], System.Globalization.NumberStyles.HexNumber, null) with
            | (true, a), (true, b) -> Some(a, b)
            | _ -> None
        else None
    let start = lines |> Array.findIndex (fun l -> match header l with Some(a, b) -> a <= address && address < b | None -> false)
    lines
    |> Array.skip (start + 1)
    |> Array.takeWhile (fun l -> (header l).IsNone)
    |> Array.find (fun l -> l.StartsWith "AnonHugePages:")
    |> fun l -> int64 (l.Split(' ', System.StringSplitOptions.RemoveEmptyEntries).[1])

let private shim () =
    match Engine.shimPath () with
    | Some path -> path
    | None -> failwith "TorchSharp's libLibTorchSharp.so was not found beside the test program"

[<Tests>]
let tests =
    testList "Engine" [
        test "the engine loads and computes" {
            Engine.ensureLoaded ()
            use a = torch.tensor([| 1.0f; 2.0f; 3.0f |])
            use b = (a * a).sum()
            Expect.equal (b.item<float32>()) 14.0f "1 + 4 + 9"
        }

        test "large tensors ask for transparent huge pages, and get them where the kernel gives them on request" {
            Engine.ensureLoaded ()
            let value = getenv Engine.HugePagesVariable
            Expect.notEqual value 0n $"{Engine.HugePagesVariable} is set in the native environment libtorch reads"
            // Set by the engine unless whoever started the tests set it (THP_MEM_ALLOC_ENABLE=0 turns it off).
            if isNull (System.Environment.GetEnvironmentVariable Engine.HugePagesVariable) then
                Expect.equal (Marshal.PtrToStringAnsi value) "1" "set by the engine"
            if Marshal.PtrToStringAnsi value = "1" && hugePageMode () <> "never" then
                // 64 MB, written (ones), in a mapping of its own: at least part of it in 2 MB pages.
                use t = torch.ones([| 16L * 1024L * 1024L |])
                let address = uint64 (NativeInterop.NativePtr.toNativeInt (NativeInterop.NativePtr.ofVoidPtr<float32> (System.Runtime.CompilerServices.Unsafe.AsPointer(&MemoryMarshal.GetReference(Layers.float32Values t)))))
                Expect.isGreaterThan (hugePagesAt address) 0L $"the tensor's mapping holds huge pages (kernel mode {hugePageMode ()})"
        }

        test "the shim in use is the shipped one where it loads, the weakened copy only where it cannot" {
            Engine.ensureLoaded ()
            let original = shim ()
            let mapped = File.ReadAllLines "/proc/self/maps" |> Array.filter (fun l -> l.Contains "libLibTorchSharp") |> Array.map (fun l -> Path.GetFileName(l.Split(' ', System.StringSplitOptions.RemoveEmptyEntries) |> Array.last)) |> Array.distinct
            Expect.hasLength mapped 1 "exactly one copy of the shim is mapped"
            if mapped.[0] = Engine.PatchedShimFile then
                Expect.isFalse (NativeLibrary.TryLoad original |> fst) "the weakened copy is used only because the shipped shim cannot load here"
            else Expect.equal mapped.[0] (Path.GetFileName original) "the shipped shim is used as it is"
        }

        test "the shipped shim needs GLIBCXX_3.4.32 from libstdc++.so.6, and not weakly" {
            let needs = File.ReadAllBytes(shim ()) |> Engine.VersionNeeds.read
            let need = needs |> List.find (fun n -> n.Version = Engine.WeakenableVersion)
            Expect.equal need.File "libstdc++.so.6" "the version's provider"
            Expect.equal (need.Flags &&& Engine.VersionNeeds.Weak) 0us "not weak in the package"
            Expect.isGreaterThan needs.Length 5 "libc, libm and libstdc++ versions are read too"
        }

        test "weakening changes that one need's flags and no other byte" {
            let original = File.ReadAllBytes(shim ())
            let patched = Engine.VersionNeeds.weaken "libstdc++.so.6" Engine.WeakenableVersion original |> Option.get
            let differing = Array.zip original patched |> Array.indexed |> Array.filter (fun (_, (a, b)) -> a <> b) |> Array.map fst
            Expect.hasLength differing 1 "one byte differs"
            let before = Engine.VersionNeeds.read original
            let after = Engine.VersionNeeds.read patched
            List.zip before after
            |> List.iter (fun (b, a) ->
                if b.Version = Engine.WeakenableVersion then Expect.equal a.Flags (b.Flags ||| Engine.VersionNeeds.Weak) "made weak"
                else Expect.equal a b $"{b.Version} is unchanged")
            Expect.equal (Engine.VersionNeeds.weaken "libstdc++.so.6" Engine.WeakenableVersion patched) (Some patched) "weakening twice changes nothing more"
        }

        test "a version the image does not need is not weakened, and a non-ELF file is refused" {
            let original = File.ReadAllBytes(shim ())
            Expect.isNone (Engine.VersionNeeds.weaken "libstdc++.so.6" "GLIBCXX_9.9.9" original) "no such need"
            Expect.throwsT<System.ArgumentException> (fun () -> Engine.VersionNeeds.read (Array.zeroCreate 100) |> ignore) "not ELF"
        }
    
        test "engine work posted from any thread runs on one thread, inline when posted from it, and its exception comes back as thrown" {
            let engineThread () = EngineThread.Invoke(fun () -> System.Threading.Thread.CurrentThread.ManagedThreadId)
            let fromHere = engineThread ()
            let fromElsewhere = System.Threading.Tasks.Task.Run(fun () -> engineThread ()).Result
            Expect.equal fromElsewhere fromHere "the same thread whoever asks"
            Expect.notEqual fromHere System.Threading.Thread.CurrentThread.ManagedThreadId "not the caller's thread"
            // Posting from the engine's thread runs at once (waiting for the queue would deadlock).
            let nested = EngineThread.Invoke(fun () -> EngineThread.Invoke(fun () -> EngineThread.IsCurrent))
            Expect.isTrue nested "nested work runs on the engine's thread"
            Expect.throwsT<System.ArgumentException>
                (fun () -> EngineThread.Invoke(fun () -> invalidArg "x" "bad" : int) |> ignore)
                "the work's own exception type"
        }
    
        test "the core's entry points can be called from any thread at once, and their input errors come back as thrown" {
            let model = OnEngine.createModel 3L (Architecture.create Vae [ 8 ] 2)
            let images = Array.init 5 (fun i -> Array.init 784 (fun p -> float32 ((i * 7 + p) % 11) / 10.0f))
            let codes = Array.init 4 (fun _ -> System.Threading.Tasks.Task.Run(fun () -> OnEngine.encode model images)) |> Array.map _.Result
            // Close, not equal: other tests in this list change libtorch's thread count meanwhile.
            for c in codes do
                Array.iter2 (Array.iter2 (fun a b -> Expect.floatClose Accuracy.medium (float a) (float b) "the same codes from every thread")) c codes.[0]
            Expect.equal (codes.[0] |> Array.map Array.length) [| 2; 2; 2; 2; 2 |] "one code of the latent size per image"
            let message =
                try
                    System.Threading.Tasks.Task.Run(fun () -> OnEngine.decode model [| [| 1.0f |] |]).GetAwaiter().GetResult() |> ignore
                    None
                with :? InvalidInputException as e -> Some e.Message
            Expect.equal message (Some "codes: [0]: has 1 values, the model takes 2") "a code of the wrong size, named, as its own exception type"
        }

        test "lanes run jobs at once, each with its share of threads, after the jobs they wait for" {
            let threads = torch.get_num_threads ()
            Engine.setThreads 2
            try
                // Jobs 0 and 1 each wait until both have started: they finish only if two lanes run them at once.
                use bothStarted = new System.Threading.CountdownEvent(2)
                let log = System.Collections.Concurrent.ConcurrentQueue<string>()
                let meeting name () =
                    bothStarted.Signal() |> ignore
                    if not (bothStarted.Wait(System.TimeSpan.FromSeconds 30.0)) then failwith $"{name} ran alone"
                    log.Enqueue $"{name} {torch.get_num_threads ()}"
                let after name () = (let before = String.concat "," log in log.Enqueue $"{name} after {before}")
                Lanes.run 2 [ { After = []; Exclusive = false; Work = meeting "a" }; { After = []; Exclusive = false; Work = meeting "b" }; { After = [ 0; 1 ]; Exclusive = false; Work = after "c" } ]
                let entries = List.ofSeq log
                Expect.equal (entries |> List.take 2 |> List.sort) [ "a 1"; "b 1" ] "both ran at once, on one thread each"
                Expect.stringStarts entries.[2] "c after" "c ran after a and b"
                Expect.equal (torch.get_num_threads ()) 2 "the caller's threads are restored"
            finally Engine.setThreads threads
        }

        test "the first failing job stops the lanes and its exception comes back as thrown" {
            let ran = System.Collections.Concurrent.ConcurrentBag<int>()
            let job i () =
                ran.Add i
                if i = 1 then invalidArg "x" "job 1 failed"
            let jobs = [ for i in 0 .. 5 -> { Lanes.LaneJob.After = (if i = 0 then [] else [ i - 1 ]); Lanes.LaneJob.Exclusive = false; Lanes.LaneJob.Work = job i } ]
            Expect.throwsT<System.ArgumentException> (fun () -> Lanes.run 2 jobs) "the job's own exception type"
            Expect.equal (ran |> Seq.sort |> List.ofSeq) [ 0; 1 ] "nothing after the failure started"
            Expect.throwsT<System.ArgumentException> (fun () -> Lanes.run 2 [ { After = [ 0 ]; Exclusive = false; Work = ignore } ]) "a job cannot wait for itself"
        }
    
        test "exclusive jobs run one at a time, beside jobs that are not" {
            let threads = torch.get_num_threads ()
            Engine.setThreads 2
            try
                use met = new System.Threading.CountdownEvent(2)
                let mutable inside = 0
                let overlaps = System.Collections.Concurrent.ConcurrentBag<string>()
                let exclusive name (meet: bool) () =
                    if System.Threading.Interlocked.Increment &inside > 1 then overlaps.Add name
                    if meet then
                        met.Signal() |> ignore
                        if not (met.Wait(System.TimeSpan.FromSeconds 30.0)) then failwith $"{name} ran alone"
                    System.Threading.Thread.Sleep 50
                    System.Threading.Interlocked.Decrement &inside |> ignore
                let plain () =
                    met.Signal() |> ignore
                    if not (met.Wait(System.TimeSpan.FromSeconds 30.0)) then failwith "the plain job ran alone"
                Lanes.run 2
                    [ { After = []; Exclusive = true; Work = exclusive "x" true }
                      { After = []; Exclusive = true; Work = exclusive "y" false }
                      { After = []; Exclusive = false; Work = plain }
                      { After = []; Exclusive = true; Work = exclusive "z" false } ]
                Expect.isEmpty overlaps "no exclusive job started while another ran"
            finally Engine.setThreads threads
        }
    ]
