/// One model's training step on two threads: each takes half of the batch (its forward pass, its
/// backward pass, its gradient, every operation on one thread; `DirectGradient` where it applies),
/// then each applies Adam to half of the parameters, summing the halves' gradients as it reads them
/// (`Adam.stepPartOfSum`). libtorch's own threads split each operation instead, and between the
/// matrix products the step's serial work (the element-wise loops, Adam, dispatch) leaves the second
/// core idle: measured on 2 cores, a step took 1.5 times as long on one thread as on two. Used by
/// `Training.trainEpoch` when the calling thread has at least two of libtorch's threads and the model
/// takes the hand-written gradient in float32 (`Gradients.byHandInto`); the noise is drawn for the
/// whole batch as the one-thread step draws it. The halves' gradients are summed in a fixed order,
/// so a training gives the same numbers every time on the same number of threads (they differ in
/// rounding from a training on one thread, whose sums run over the whole batch at once).
module Vae.Core.SplitStep

open System
open System.Threading
open TorchSharp
open Vae.Core.Layers

/// A thread that runs one piece of work at a time for the thread that posts it, waiting between
/// pieces by spinning first (a step's handover must cost microseconds, not a wake-up), with
/// `threads` of libtorch's threads of its own.
type private Helper(threads: int) =
    let start = new ManualResetEventSlim(false, 2047)
    let finish = new ManualResetEventSlim(false, 2047)
    let mutable work: unit -> unit = ignore
    let mutable failure: Runtime.ExceptionServices.ExceptionDispatchInfo option = None
    let mutable stopping = false
    let thread =
        Thread(
            (fun () ->
                torch.set_num_threads threads
                let mutable running = true
                while running do
                    start.Wait()
                    start.Reset()
                    if stopping then running <- false
                    else
                        (try work () with e -> failure <- Some(Runtime.ExceptionServices.ExceptionDispatchInfo.Capture e))
                        finish.Set()),
            8 * 1024 * 1024)
    do
        thread.IsBackground <- true
        thread.Name <- "Vae step helper"
        thread.Start()

    /// Starts `piece` on the helper's thread.
    member _.Post(piece: unit -> unit) =
        work <- piece
        finish.Reset()
        start.Set()

    /// Waits for the piece posted last; rethrows its exception.
    member _.Wait() =
        finish.Wait()
        failure |> Option.iter (fun f -> failure <- None; f.Throw())

    interface IDisposable with
        member _.Dispose() =
            stopping <- true
            start.Set()
            thread.Join()
            start.Dispose()
            finish.Dispose()

/// Whether a step of `model` under `adam` can be split: a float32 multilayer perceptron on the CPU
/// taking the hand-written gradient and Adam's fused step, on a thread with at least two of
/// libtorch's threads.
let applies (adam: Adam.Adam) (model: Model) =
    model.Architecture.IsMlp
    && Adam.splittable adam model.Parameters
    && torch.get_num_threads () >= 2

/// The split steps of one epoch of `model` on batches of up to `batchSize` images: a helper thread
/// and a second gradient buffer, with half of the calling thread's libtorch threads each (the
/// caller's count is restored by Dispose), and a direct-gradient workspace per thread where
/// `DirectGradient` applies.
type SplitSteps(model: Model, batchSize: int) =
    let threads = torch.get_num_threads ()
    let share = max 1 (threads / 2)
    do torch.set_num_threads share
    let helper = new Helper(share)
    let second = torch.empty_like model.Parameters.Gradients
    let secondViews = viewsOf second model.Parameters.Layout
    let firstGradients = linears model.Parameters.GradientViews
    let secondGradients = linears secondViews
    let total = int model.Parameters.Values.NumberOfElements
    // Each thread's workspace for the direct gradient (`DirectGradient`): half a batch each.
    let workspaces =
        if DirectGradient.applies model then Array.init 2 (fun _ -> new DirectGradient.Workspace(model, max 2 ((batchSize + 1) / 2)))
        else [||]
    // The parameters each thread sums and updates: the first half on the calling thread.
    let middle = total / 2

    /// One step on batch `x` with the noise drawn from `noise` for the whole batch: the batch's
    /// summed reconstruction and KL, and Adam's state after the step, taken only when the loss is
    /// finite (as `Training.trainEpoch` does on one thread).
    member _.Step(noise: torch.Generator, adam: Adam.Adam, x: torch.Tensor) : Adam.Adam * Gradients.BatchLoss =
        let n = x.shape.[0]
        let epsilon = Gradients.noiseFor noise model n
        let upper = n / 2L
        let lower = n - upper
        let mutable secondLoss: Gradients.BatchLoss = { Reconstruction = 0.0; Kl = 0.0 }
        let half (thread: int) (start: int64) (length: int64) () =
            use _ = torch.NewDisposeScope()
            let noise = epsilon |> Option.map (fun e -> e.narrow(0L, start, length))
            let rows = x.narrow(0L, start, length)
            if workspaces.Length > 0 && DirectGradient.takes rows then
                workspaces.[thread].Pass(noise, (if thread = 0 then model.Parameters.Gradients else second), rows)
            else Gradients.byHandInto noise (if thread = 0 then firstGradients else secondGradients) model rows
        if upper = 0L then
            // One image: nothing to split; the second buffer holds no gradient.
            let loss = half 0 0L n ()
            let adam = if Double.IsFinite(loss.Reconstruction + loss.Kl) then Adam.step adam model.Parameters else adam
            adam, loss
        else
            helper.Post(fun () -> secondLoss <- half 1 lower upper ())
            let firstLoss = try half 0 0L lower () finally helper.Wait()
            let loss: Gradients.BatchLoss = { Reconstruction = firstLoss.Reconstruction + secondLoss.Reconstruction; Kl = firstLoss.Kl + secondLoss.Kl }
            if not (Double.IsFinite(loss.Reconstruction + loss.Kl)) then adam, loss
            else
                let update offset count () =
                    Adam.stepPartOfSum adam model.Parameters second offset count
                helper.Post(update middle (total - middle))
                (try update 0 middle () finally helper.Wait())
                Adam.counted adam, loss

    interface IDisposable with
        member _.Dispose() =
            (helper :> IDisposable).Dispose()
            workspaces |> Array.iter (fun w -> (w :> IDisposable).Dispose())
            secondViews |> List.iter (fun t -> t.Dispose())
            second.Dispose()
            torch.set_num_threads threads
