module Vae.Tests.Main

open System
open Expecto

/// After each test: the tensors it dropped without disposing are freed now (their finalizers hold
/// the engine's memory, which the garbage collector does not see, so it would not hurry), and
/// glibc's free pages go back to the system. Without it the suite's resident memory climbed test
/// by test to 2.9–3.2 GB.
let private freeAfterEach (code: TestCode) : TestCode =
    let free () =
        GC.Collect()
        GC.WaitForPendingFinalizers()
        GC.Collect()
        Vae.Core.Engine.releaseFreedMemory ()
    match code with
    | Sync run -> Sync(fun () -> try run () finally free ())
    | SyncWithCancel run -> SyncWithCancel(fun cancel -> try run cancel finally free ())
    | Async run -> Async(async { try return! run finally free () })
    | AsyncFsCheck(config, stress, run) -> AsyncFsCheck(config, stress, fun fsCheck -> async { try return! run fsCheck finally free () })

[<EntryPoint>]
let main args =
    Vae.Core.Engine.ensureLoaded ()
    let tests =
        Impl.testFromThisAssembly ()
        |> Option.defaultWith (fun () -> failwith "no test in the test assembly")
        |> Test.replaceTestCode (fun label code ->
            let case = TestCase(freeAfterEach code, Normal)
            if isNull label then case else TestLabel(label, case, Normal))
    // Tests that train compete for the same two cores; running them one at a time keeps each
    // test's timing and the thread count that determinism depends on fixed.
    runTestsWithCLIArgs [ Sequenced ] args tests
