/// Independent pieces of work (models to train and measure) on several threads at once, each with
/// a share of libtorch's threads. One model's training cannot keep two cores busy: between its
/// matrix products come small element-wise operations, the optimizer and dispatch, which run on
/// one thread while the other waits. Measured on 2 cores with the five-layer VAE (60,000 images):
/// one model on 2 threads 2.7–3.1 s per epoch; two models at once on 1 thread each 4.0–4.4 s per
/// epoch each, i.e. 2.0–2.2 s per model-epoch. Each lane's share keeps the OpenMP threads at the
/// core count (see EngineThread for what happens beyond it).
module internal Vae.Core.Lanes

open System
open System.Threading
open TorchSharp
open Vae.Core.Engine

/// A piece of work for `Lanes.run`: it starts once every job listed in `After` (indices into the
/// same list) has finished, and, if `Exclusive`, while no other exclusive job runs.
type LaneJob = { After: int list; Exclusive: bool; Work: unit -> unit }

/// libtorch threads each of `lanes` lanes gets: max 1 (threads / lanes).
let threadsPerLane (lanes: int) =
    ensureLoaded ()
    max 1 (torch.get_num_threads () / lanes)

/// Runs `jobs` on `lanes` threads (the caller's and lanes − 1 new ones), each thread with
/// max 1 (threads / lanes) of libtorch's `threads` intra-op threads; every job runs on one
/// thread with that count whichever lane takes it, so its numbers do not depend on the order.
/// A free lane takes the first ready job in list order: its `After` jobs have finished and,
/// if it is exclusive, no other exclusive job is running. The
/// first exception stops the lanes taking new jobs and is rethrown, as thrown, once every
/// lane has stopped. The caller's thread count is restored at the end.
let rec run (lanes: int) (jobs: LaneJob list) : unit = runWith lanes (threadsPerLane lanes) jobs

/// `run` with `perLane` libtorch threads on each lane (a shard of a run gives each model one thread
/// whatever the machine: `Shards`).
and runWith (lanes: int) (perLane: int) (jobs: LaneJob list) : unit =
    if lanes < 1 then invalidArg (nameof lanes) $"must be at least 1, was {lanes}"
    if perLane < 1 then invalidArg (nameof perLane) $"must be at least 1, was {perLane}"
    let jobs = Array.ofList jobs
    jobs
    |> Array.iteri (fun i job ->
        for a in job.After do
            if a < 0 || a >= i then invalidArg (nameof jobs) $"job {i} waits for job {a}: only earlier jobs can be waited for")
    ensureLoaded ()
    let threads = torch.get_num_threads ()
    let gate = obj ()
    let started = Array.zeroCreate jobs.Length
    let finished = Array.zeroCreate jobs.Length
    let mutable exclusiveRunning = false
    let mutable failure: Runtime.ExceptionServices.ExceptionDispatchInfo option = None
    let ready i =
        not started.[i]
        && not (jobs.[i].Exclusive && exclusiveRunning)
        && jobs.[i].After |> List.forall (fun a -> finished.[a])
    // The next job for a free lane, waiting while jobs run that others wait for; None when done.
    let rec next () =
        if failure.IsSome || Array.forall id started then None
        else
            match Seq.init jobs.Length id |> Seq.tryFind ready with
            | Some i ->
                started.[i] <- true
                if jobs.[i].Exclusive then exclusiveRunning <- true
                Some i
            | None ->
                Monitor.Wait gate |> ignore
                next ()
    let lane () =
        torch.set_num_threads perLane
        let mutable running = true
        while running do
            match lock gate next with
            | None -> running <- false
            | Some i ->
                let outcome = try jobs.[i].Work(); None with e -> Some(Runtime.ExceptionServices.ExceptionDispatchInfo.Capture e)
                // What the job freed goes back to the system before the next job starts: small
                // blocks stay in glibc's heaps otherwise (`Engine.releaseFreedMemory`).
                Engine.releaseFreedMemory ()
                lock gate (fun () ->
                    finished.[i] <- outcome.IsNone
                    if jobs.[i].Exclusive then exclusiveRunning <- false
                    if failure.IsNone then failure <- outcome
                    Monitor.PulseAll gate)
    let others =
        [ for l in 1 .. lanes - 1 ->
            // A main thread's stack, as EngineThread has.
            let t = Thread(lane, 8 * 1024 * 1024)
            t.IsBackground <- true
            t.Name <- $"Vae lane {l + 1}"
            t.Start()
            t ]
    try lane ()
    finally
        for t in others do t.Join()
        torch.set_num_threads threads
    failure |> Option.iter (fun f -> f.Throw())
