/// Fashion-MNIST downloaded into the per-user cache when no folder holds it (torchvision's
/// behaviour): from a real HTTP server on 127.0.0.1 that serves the repository's files, intact,
/// corrupt or cut short.
module Vae.Tests.DownloadTests

open System
open System.IO
open System.Net
open System.Threading
open Expecto
open Vae.Core
open Vae.Tests.Shared

/// How the server answers for one file.
type private Serving =
    | Intact
    /// One byte of the compressed file flipped.
    | Corrupt
    /// Content-Length of the whole file, half of it sent, then the connection closed.
    | CutShort

/// An HTTP server on a free port of 127.0.0.1 serving the official files of `folder` at /fm/,
/// `serving` saying how for each; disposed, it stops.
type private FileServer(folder: string, serving: string -> Serving) =
    let port = freePort ()
    let listener = new HttpListener()
    do
        listener.Prefixes.Add $"http://127.0.0.1:{port}/fm/"
        listener.Start()
    let stop = new CancellationTokenSource()
    let loop =
        Tasks.Task.Run(fun () ->
            while not stop.IsCancellationRequested do
                try
                    let context = listener.GetContext()
                    let name = Path.GetFileName context.Request.Url.AbsolutePath
                    let path = Path.Combine(folder, name)
                    let response = context.Response
                    if not (File.Exists path) then
                        response.StatusCode <- 404
                        response.Close()
                    else
                        let bytes = File.ReadAllBytes path
                        match serving name with
                        | Intact ->
                            response.ContentLength64 <- int64 bytes.Length
                            response.OutputStream.Write(bytes, 0, bytes.Length)
                            response.Close()
                        | Corrupt ->
                            bytes.[bytes.Length / 2] <- bytes.[bytes.Length / 2] ^^^ 0xFFuy
                            response.ContentLength64 <- int64 bytes.Length
                            response.OutputStream.Write(bytes, 0, bytes.Length)
                            response.Close()
                        | CutShort ->
                            response.ContentLength64 <- int64 bytes.Length
                            response.OutputStream.Write(bytes, 0, bytes.Length / 2)
                            response.OutputStream.Flush()
                            response.Abort()
                with _ when stop.IsCancellationRequested -> ())
    member _.Url = $"http://127.0.0.1:{port}/fm/"
    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()
            listener.Close()
            try loop.Wait(5000) |> ignore with _ -> ()

let private official = FashionMnist.officialFiles |> List.map _.Name

/// The files in `cache`, sorted.
let private filesIn (cache: string) =
    if Directory.Exists cache then Directory.GetFiles cache |> Array.map Path.GetFileName |> Array.sort |> List.ofArray else []

/// The error `f` raises; fails the test when it raises none.
let private refusal (f: unit -> unit) : InvalidInputException =
    try
        f ()
        failtest "no error was raised"
    with :? InvalidInputException as e -> e

[<Tests>]
let tests =
    testSequenced <| testList "Download" [
        test "missing files are downloaded into the cache, checked, and load; progress is reported" {
            let repository = FashionMnist.locate None
            use server = new FileServer(repository, fun _ -> Intact)
            let cache = Path.Combine(temporaryDirectory (), "cache")
            let lines = Collections.Generic.List<string>()
            FashionMnist.download lines.Add server.Url cache
            Expect.equal (filesIn cache) (List.sort official) "the four files, nothing else"
            for file in FashionMnist.officialFiles do
                Expect.isGreaterThan (FashionMnist.readOfficial cache file).Data.Length 0 $"{file.Name} is the official file"
            Expect.exists lines (fun l -> l.StartsWith "downloading train-images-idx3-ubyte.gz from" && l.Contains " MB") "progress lines"
            // A second call finds them and downloads nothing.
            let again = Collections.Generic.List<string>()
            Expect.equal (FashionMnist.locateIn None [ Path.Combine(temporaryDirectory (), "empty") ] cache server.Url) cache "locate falls back to the cache"
            FashionMnist.download again.Add server.Url cache
            Expect.isEmpty again "nothing downloaded twice"
        }

        test "a corrupt download is refused in one line naming the address, and nothing of it is kept" {
            let repository = FashionMnist.locate None
            use server = new FileServer(repository, fun name -> if name = "t10k-images-idx3-ubyte.gz" then Corrupt else Intact)
            let cache = Path.Combine(temporaryDirectory (), "cache")
            let e = refusal (fun () -> FashionMnist.download ignore server.Url cache)
            Expect.equal e.Input $"{server.Url}t10k-images-idx3-ubyte.gz" "names the address"
            Expect.stringContains e.Problem "not the official one" "says why"
            Expect.isFalse (e.Message.Contains "\n") "one line"
            Expect.isFalse (filesIn cache |> List.contains "t10k-images-idx3-ubyte.gz") "the corrupt file is not kept"
            Expect.isEmpty (filesIn cache |> List.filter (fun f -> not (List.contains f official))) "no partial file left"
        }

        test "a download cut short is refused, and nothing of it is kept" {
            let repository = FashionMnist.locate None
            use server = new FileServer(repository, fun name -> if name = "train-images-idx3-ubyte.gz" then CutShort else Intact)
            let cache = Path.Combine(temporaryDirectory (), "cache")
            let e = refusal (fun () -> FashionMnist.download ignore server.Url cache)
            Expect.equal e.Input $"{server.Url}train-images-idx3-ubyte.gz" "names the address"
            Expect.isFalse (filesIn cache |> List.contains "train-images-idx3-ubyte.gz") "the cut file is not kept"
            Expect.isEmpty (filesIn cache |> List.filter (fun f -> not (List.contains f official))) "no partial file left"
        }

        test "offline, locating fails in one line saying where it looked and how to provide the files" {
            // A port nothing listens on: the connection is refused at once.
            let port = freePort ()
            let empty = Path.Combine(temporaryDirectory (), "empty")
            let cache = Path.Combine(temporaryDirectory (), "cache")
            let e = refusal (fun () -> FashionMnist.locateIn None [ empty; cache ] cache $"http://127.0.0.1:{port}/fm/" |> ignore)
            Expect.isFalse (e.Message.Contains "\n") "one line"
            for part in [ empty; cache; "downloading them failed"; FashionMnist.EnvironmentVariable; FashionMnist.UrlVariable ] do
                Expect.stringContains e.Message part $"names {part}"
            Expect.isEmpty (filesIn cache) "nothing kept"
        }
    ]
