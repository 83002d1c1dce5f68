/// The per-user cache this library writes into, as the XDG base directory specification places it:
/// $XDG_CACHE_HOME/vae-dotnet (an absolute path), else ~/.cache/vae-dotnet. It holds the downloaded
/// Fashion-MNIST files, the shipped definitions written out, and a patched copy of TorchSharp's shim.
module Vae.Core.UserCache

open System
open System.IO

/// The folder `parts` below the cache's root (not created).
let folder (parts: string list) : string =
    let root =
        match Environment.GetEnvironmentVariable "XDG_CACHE_HOME" with
        | dir when not (String.IsNullOrWhiteSpace dir) && Path.IsPathRooted dir -> dir
        | _ -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".cache")
    Path.Combine(Array.ofList (root :: "vae-dotnet" :: parts))
