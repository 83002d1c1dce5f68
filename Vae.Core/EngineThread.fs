namespace Vae.Core

open System
open System.Threading
open System.Threading.Tasks

/// One long-lived thread for the engine's work. libtorch's OpenMP runtime keeps a team of worker
/// threads for every thread that starts parallel work; once there are more of them than cores,
/// its workers stop spinning between operations and sleep, and waking them costs more than many
/// of this model's operations take. Measured: a run that loaded the data on the main thread and
/// trained on a thread-pool thread took 5.8–10.5 s per epoch of the five-layer VAE, with the
/// workers switching context ~1,000 times a second; `bench`, with everything on one thread,
/// 3.0–3.4 s. The core runs its entry points here (`OnEngine`; a run adds lanes that split the
/// threads between them: `Lanes`).
[<AbstractClass; Sealed>]
type internal EngineThread private () =
    static let queue = new Collections.Concurrent.BlockingCollection<unit -> unit>()
    /// Set by the engine's thread itself before it takes its first piece of work. A `Lazy`'s
    /// IsValueCreated is not enough: the thread starts inside the factory and can run its first
    /// job before the value is published, and that job, asking IsCurrent, queued work behind
    /// itself and waited forever (seen with one core, or both busy, at start-up).
    [<ThreadStatic; DefaultValue>]
    static val mutable private onEngine: bool
    static let thread =
        lazy (
            // A main thread's stack (8 MB), so that work recurses here as deeply as it could there.
            let t =
                Thread(
                    (fun () ->
                        EngineThread.onEngine <- true
                        for work in queue.GetConsumingEnumerable() do work ()),
                    8 * 1024 * 1024)
            t.IsBackground <- true
            t.Name <- "Vae engine"
            t.Start()
            t)

    /// True on the engine's thread.
    static member IsCurrent = EngineThread.onEngine

    /// Runs `work` on the engine's thread (at once if called from it), in the order posted; the
    /// task ends with its result or its exception.
    static member Run(work: Func<'T>) : Task<'T> =
        if EngineThread.IsCurrent then
            try Task.FromResult(work.Invoke()) with e -> Task.FromException<'T> e
        else
            let completion = TaskCompletionSource<'T>(TaskCreationOptions.RunContinuationsAsynchronously)
            queue.Add(fun () ->
                try completion.SetResult(work.Invoke()) with e -> completion.SetException e)
            thread.Force() |> ignore
            completion.Task

    /// Runs `work` on the engine's thread and waits for it; its exception is rethrown as it was.
    static member Invoke(work: Func<'T>) : 'T = EngineThread.Run(work).GetAwaiter().GetResult()

    /// Runs `work`, which returns nothing, on the engine's thread and waits for it.
    static member Invoke(work: Action) : unit = EngineThread.Invoke(Func<unit>(fun () -> work.Invoke()))
