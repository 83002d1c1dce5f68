module Vae.Tests.OnEngineTests

open System
open System.Diagnostics
open System.Threading
open System.Threading.Tasks
open Expecto
open Vae.Core
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes
open Vae.Tests.Shared

/// The model (experiment, model, repeat) an event is about.
let private modelOf =
    function
    | Started(job, _, _)
    | Batch(job, _, _, _)
    | Epoch(job, _)
    | Diverged(job, _)
    | Measured job -> job.Experiment, job.Model, job.Repeat
    | Finished(experiment, outcome) -> experiment, outcome.Spec.Name, outcome.Repeat

/// An event as one line, without its model, for comparing sequences.
let private describe =
    function
    | Started(_, epochs, batches) -> $"started: at most {epochs} epochs of {batches} batches"
    | Batch(_, epoch, batch, batches) -> $"epoch {epoch} batch {batch}/{batches}"
    | Epoch(_, record) -> $"epoch {record.Epoch} done"
    | Diverged _ -> "diverged"
    | Measured job -> $"measured: {job.Kind}"
    | Finished _ -> "finished"

/// Runs `experiments` through `OnEngine.runAsync` with `onEvent`; the task, once it has ended or a
/// minute has passed.
let private runFor (onEvent: RunEvent -> unit) settings experiments =
    let running = OnEngine.runAsync onEvent CancellationToken.None JobStore.memory settings (Map [ DataSource.FashionMnistFiles, dataset.Value ]) experiments
    Task.WhenAny(running, Task.Delay(TimeSpan.FromMinutes 1.0)).Wait()
    running

[<Tests>]
let tests =
    testList "OnEngine" [
        test "a run's events come on one thread, one at a time, in order for each model, every one before the run's task completes" {
            // task3 trains task1's two VAEs and an autoencoder of task1's best architecture, and takes
            // task1's best VAE as it is (bestOf): every kind of model, on two lanes at once.
            let _, experiments = plan "task3"
            let settings = { RunSettings.none with Quick = true; Repeats = Some 1; Lanes = Some 2 }
            let delivered = ResizeArray<RunEvent>()
            let threads = Collections.Generic.HashSet<int * string>()
            let mutable inside = 0
            let mutable overlapped = false
            // Deliberately not thread-safe but for the overlap check: delivery on one thread needs none.
            let onEvent event =
                if Interlocked.Increment &inside > 1 then overlapped <- true
                threads.Add((Thread.CurrentThread.ManagedThreadId, Thread.CurrentThread.Name)) |> ignore
                delivered.Add event
                Interlocked.Decrement &inside |> ignore
            let outcome = (runFor onEvent settings experiments).GetAwaiter().GetResult()
            // Read at once: what is not here when the task completes was delivered late.
            let events = List.ofSeq delivered
            Expect.isFalse overlapped "never two callbacks at once"
            Expect.equal (List.ofSeq threads |> List.map snd) [ "Vae run events" ] "every event on the run's one event thread"
            let plannedIds kinds = jobs settings experiments |> List.map _.Id |> List.filter (fun id -> List.contains id.Kind kinds) |> set
            let eventIds pick = events |> List.choose pick |> set
            Expect.equal (eventIds (function Started(job, _, _) -> Some job | _ -> None)) (plannedIds [ Train ]) "a Started for each training job of the plan"
            Expect.equal (eventIds (function Measured job -> Some job | _ -> None)) (plannedIds [ Measure; Likelihood ]) "a Measured for each measurement job of the plan"
            let byModel = events |> List.groupBy modelOf |> Map.ofList
            let finished = events |> List.choose (function Finished(_, o) -> Some o | _ -> None)
            Expect.equal
                (finished |> List.map (fun o -> o.Spec.Name) |> List.sort)
                [ "autoencoder"; "baseline"; "five-layer"; "vae" ]
                "one Finished for each model, as many as the outcomes hold"
            Expect.equal
                (outcome.Experiments |> List.sumBy (fun e -> e.Repeats |> List.sumBy List.length))
                finished.Length
                "the outcomes hold the models that finished"
            for o in finished do
                let experiment = (events |> List.pick (function Finished(e, f) when obj.ReferenceEquals(f, o) -> Some e | _ -> None))
                let name = $"{experiment}/{o.Spec.Name}"
                let seen = byModel.[(experiment, o.Spec.Name, o.Repeat)] |> List.map describe
                match o.ReusedFrom with
                | Some _ -> Expect.equal seen [ "finished" ] $"{name}: taken, not trained: Finished alone"
                | None ->
                    let batches = Training.batchesPerEpoch (effectiveTraining settings (experiments |> List.find (fun e -> e.Name = experiment))) QuickTrainingImages
                    let training =
                        [ yield "started: at most 2 epochs of 32 batches"
                          for e in 1 .. o.Training.History.Length do
                              for b in 1 .. batches do
                                  yield $"epoch {e} batch {b}/{batches}"
                              yield $"epoch {e} done" ]
                    Expect.equal batches 32 "2,048 images in batches of 64"
                    Expect.equal (List.take training.Length seen) training $"{name}: Started, then each epoch's batches and the epoch, in order"
                    Expect.equal
                        (seen |> List.skip training.Length |> List.take 2 |> List.sort)
                        [ "measured: Likelihood"; "measured: Measure" ]
                        $"{name}: both measurements after training"
                    Expect.equal (List.skip (training.Length + 2) seen) [ "finished" ] $"{name}: Finished last"
                    let records = byModel.[(experiment, o.Spec.Name, o.Repeat)] |> List.choose (function Epoch(_, r) -> Some r | _ -> None)
                    Expect.equal records o.Training.History "the Epoch events are the model's history"
        }

        test "a callback that throws stops the run at once, which fails with that exception; nothing after it is delivered" {
            let _, experiments = plan "task1"
            // Full size: a run that went on would train and measure for minutes.
            let settings = { RunSettings.none with Epochs = Some 5; Repeats = Some 1 }
            let failure = InvalidOperationException "the callback failed"
            let delivered = ResizeArray<RunEvent>()
            let onEvent event =
                delivered.Add event
                match event with
                | Batch _ -> raise failure
                | _ -> ()
            let clock = Stopwatch.StartNew()
            let running = runFor onEvent settings experiments
            Expect.isTrue running.IsCompleted "the run ended within a minute"
            Expect.isLessThan clock.Elapsed.TotalSeconds 20.0 "the run stopped at once"
            Expect.isTrue running.IsFaulted "the run failed"
            Expect.isTrue (obj.ReferenceEquals(running.Exception.InnerException, failure)) $"with the callback's exception, not {running.Exception.InnerException}"
            Expect.isTrue (match Seq.last delivered with Batch _ -> true | _ -> false) $"nothing delivered after the Batch that threw: {Seq.last delivered}"
        }

        test "a callback that throws at the run's last event fails the run all the same" {
            let _, experiments = plan "task1"
            let settings = { RunSettings.none with Quick = true; Repeats = Some 1 }
            let failure = InvalidOperationException "the callback failed"
            let mutable finished = 0
            let onEvent =
                function
                | Finished _ ->
                    finished <- finished + 1
                    if finished = 2 then raise failure
                | _ -> ()
            let running = runFor onEvent settings experiments
            Expect.equal finished 2 "both models finished"
            Expect.isTrue running.IsFaulted "the run failed, though its work was done"
            Expect.isTrue (obj.ReferenceEquals(running.Exception.InnerException, failure)) $"with the callback's exception, not {running.Exception.InnerException}"
        }
    ]
