module Vae.Tests.Main

open Expecto

[<EntryPoint>]
let main args =
    Vae.Core.Engine.ensureLoaded ()
    // Tests that train compete for the same two cores; running them one at a time keeps each
    // test's timing and the thread count that determinism depends on fixed.
    runTestsInAssemblyWithCLIArgs [ Sequenced ] args
