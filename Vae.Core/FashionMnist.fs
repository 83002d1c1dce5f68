/// Zalando's Fashion-MNIST, the default data set: 60,000 training and 10,000 test images, 28 × 28,
/// ten classes, in four official files found in known places and checked against their checksums.
module Vae.Core.FashionMnist

open System
open System.IO
open Vae.Core.Idx
open Vae.Core.Data

/// Pixels per image (28 × 28).
[<Literal>]
let Pixels = 784

/// Class names by label.
let classNames =
    [| "T-shirt/top"; "Trouser"; "Pullover"; "Dress"; "Coat"; "Sandal"; "Shirt"; "Sneaker"; "Bag"; "Ankle boot" |]

/// An official file: its name, and the size and SHA-256 of its decompressed content. The size is
/// the most the reader inflates before giving up, so a gzip bomb in the file's place costs no more.
type OfficialFile = { Name: string; DecompressedSize: int; Sha256: string }

let trainImages = { Name = "train-images-idx3-ubyte.gz"; DecompressedSize = 47040016; Sha256 = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888" }
let trainLabels = { Name = "train-labels-idx1-ubyte.gz"; DecompressedSize = 60008; Sha256 = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9" }
let testImages = { Name = "t10k-images-idx3-ubyte.gz"; DecompressedSize = 7840016; Sha256 = "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b" }
let testLabels = { Name = "t10k-labels-idx1-ubyte.gz"; DecompressedSize = 10008; Sha256 = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34" }
let officialFiles = [ trainImages; trainLabels; testImages; testLabels ]

/// The variable that names a data folder.
[<Literal>]
let EnvironmentVariable = "FASHION_MNIST_DIR"

/// Debian's dataset-fashion-mnist package installs the files here.
[<Literal>]
let DebianDirectory = "/usr/share/datasets/fashion-mnist"

/// The repository's data/fashion-mnist, found by walking up from `start`.
let repositoryDirectory (start: string) =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let candidate = Path.Combine(dir.FullName, "data", "fashion-mnist")
            if Directory.Exists candidate then Some candidate else up dir.Parent
    up (DirectoryInfo start)

/// The variable that names where to download the files from (a folder URL holding the four files).
[<Literal>]
let UrlVariable = "FASHION_MNIST_URL"

/// Zalando's own copies (the address torchvision and Keras download from).
[<Literal>]
let UpstreamUrl = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

/// The per-user cache: $XDG_CACHE_HOME/vae-dotnet/fashion-mnist, or ~/.cache/vae-dotnet/fashion-mnist.
let cacheDirectory () = UserCache.folder [ "fashion-mnist" ]

/// Where missing files are downloaded from: $FASHION_MNIST_URL, else upstream.
let sourceUrl () =
    match Environment.GetEnvironmentVariable UrlVariable with
    | url when not (String.IsNullOrWhiteSpace url) -> url
    | _ -> UpstreamUrl

/// Where the data is looked for, in order: an explicit folder, $FASHION_MNIST_DIR, the
/// repository's data/fashion-mnist (from the working folder, then from the program's folder),
/// Debian's package folder, the per-user cache.
let searchDirectories (explicitDir: string option) =
    [ explicitDir
      Environment.GetEnvironmentVariable EnvironmentVariable |> Option.ofObj |> Option.filter (String.IsNullOrWhiteSpace >> not)
      repositoryDirectory Environment.CurrentDirectory
      repositoryDirectory AppContext.BaseDirectory
      Some DebianDirectory
      Some(cacheDirectory ()) ]
    |> List.choose id
    |> List.distinct

/// What Fashion-MNIST is: 60,000 training and 10,000 test images of 28 × 28 pixels, ten classes;
/// the interpolation walks from a T-shirt/top (class 0) to a sneaker (class 7).
let description: Description =
    { Name = "fashion-mnist"
      Folder = None
      Height = 28
      Width = 28
      Classes = List.ofArray classNames
      Interpolation = 0, 7
      TrainImages = 60000
      TestImages = 10000
      Files = officialFiles |> List.map (fun f -> f.Name, f.Sha256) }

/// Reads `path` (an official file's compressed bytes), checks the SHA-256 of its decompressed
/// content, and returns that content.
let private checkedContent (file: OfficialFile) (path: string) =
    let content = readContent file.DecompressedSize path
    let actual = sha256Hex content
    if actual <> file.Sha256 then
        // Parse first: a structural fault is the more useful message when there is one.
        parse path content |> ignore
        InvalidInput.about path $"SHA-256 of the decompressed content is {actual}, the official file's is {file.Sha256}"
    content

/// Downloads the official files `cache` lacks from the folder URL `source` into `cache`, as
/// torchvision does: each to a temporary name, checked (structure and SHA-256 of its decompressed
/// content), then renamed, so the cache never holds a partial or wrong file. Progress goes to
/// `report`. Raises the error about `source` on any failure, with nothing of that file kept.
let download (report: string -> unit) (source: string) (cache: string) : unit =
    Directory.CreateDirectory cache |> ignore
    use client = new Net.Http.HttpClient(Timeout = TimeSpan.FromMinutes 10.0)
    let baseUri = Uri(if source.EndsWith "/" then source else source + "/")
    for file in officialFiles do
        let target = Path.Combine(cache, file.Name)
        if not (File.Exists target) then
            let uri = Uri(baseUri, file.Name)
            let temporary = $"{target}.{Environment.ProcessId}.part"
            try
                try
                    use response = client.GetAsync(uri, Net.Http.HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult()
                    if not response.IsSuccessStatusCode then
                        InvalidInput.about (string uri) $"download failed: HTTP {int response.StatusCode} {response.ReasonPhrase}"
                    let total = Option.ofNullable response.Content.Headers.ContentLength
                    do
                        use input = response.Content.ReadAsStream()
                        use output = File.Create temporary
                        let buffer = Array.zeroCreate<byte> (1 <<< 16)
                        let mutable received = 0L
                        let mutable lastReport = -1L
                        let mutable read = input.Read(buffer, 0, buffer.Length)
                        while read > 0 do
                            output.Write(buffer, 0, read)
                            received <- received + int64 read
                            // One line per 5 MB (and at the end), on the caller's channel.
                            if received / 5_000_000L <> lastReport then
                                lastReport <- received / 5_000_000L
                                let of' = match total with | Some t -> $" of {float t / 1e6:F1}" | None -> ""
                                report $"downloading {file.Name} from {baseUri}: {float received / 1e6:F1}{of'} MB"
                            read <- input.Read(buffer, 0, buffer.Length)
                        match total with
                        | Some t when t <> received ->
                            InvalidInput.about (string uri) $"download ended after {received} of {t} bytes"
                        | _ -> ()
                    checkedContent file temporary |> ignore
                    File.Move(temporary, target, true)
                with
                | :? InvalidInputException as e when e.Input = temporary ->
                    InvalidInput.about (string uri) $"the downloaded file is not the official one: {e.Problem}"
                | :? Net.Http.HttpRequestException
                | :? IOException
                | :? Threading.Tasks.TaskCanceledException as e ->
                    InvalidInput.about (string uri) $"download failed: {e.Message}"
            finally
                if File.Exists temporary then File.Delete temporary

/// The first of `searched` that holds all four files; else the files downloaded from `source`
/// into `cache` (progress to stderr). An explicit folder is never passed over: if it lacks a
/// file, that is the error.
let locateIn (explicitDir: string option) (searched: string list) (cache: string) (source: string) : string =
    let complete dir = officialFiles |> List.forall (fun f -> File.Exists(Path.Combine(dir, f.Name)))
    match explicitDir with
    | Some dir when not (complete dir) ->
        let missing = officialFiles |> List.filter (fun f -> not (File.Exists(Path.Combine(dir, f.Name)))) |> List.map _.Name
        InvalidInput.about dir $"""no Fashion-MNIST files here (missing {String.Join(", ", missing)})"""
    | _ ->
        match searched |> List.tryFind complete with
        | Some dir -> dir
        | None ->
            try
                download (fun line -> eprintfn "%s" line) source cache
                cache
            with :? InvalidInputException as e ->
                InvalidInput.about "Fashion-MNIST"
                    $"""the four files were not found in any of: {String.Join("; ", searched)}, and downloading them failed ({e.Message}); copy them into {cache}, set {EnvironmentVariable} to a folder holding them, or {UrlVariable} to where to download them from"""

/// The first folder of `searchDirectories` that holds all four files, or the per-user cache after
/// downloading them (see `locateIn`).
let locate (explicitDir: string option) : string =
    locateIn explicitDir (searchDirectories explicitDir) (cacheDirectory ()) (sourceUrl ())

/// Reads one official file of `dir` (no more than the official file's size decompressed), checks
/// the SHA-256 of its decompressed content, and parses it.
let readOfficial (dir: string) (file: OfficialFile) : IdxArray =
    let path = Path.Combine(dir, file.Name)
    parse path (checkedContent file path)

let private loadSplit dir (images: OfficialFile) (labels: OfficialFile) =
    toSplit (description.Height, description.Width) description.Classes.Length
        (Path.Combine(dir, images.Name)) (readOfficial dir images) (Path.Combine(dir, labels.Name)) (readOfficial dir labels)

/// Loads the official training and test sets from the first folder that holds them (see `locate`).
let load (explicitDir: string option) : Dataset =
    let dir = locate explicitDir
    let dataset =
        { Description = description
          Train = loadSplit dir trainImages trainLabels
          Test = loadSplit dir testImages testLabels }
    // The compressed, decompressed and parsed copies of the files (about 200 MB of large arrays)
    // are garbage now; an aggressive collection hands their memory back before training starts
    // (measured: 210 MB less resident; a plain collection keeps it committed).
    GC.Collect(2, GCCollectionMode.Aggressive, true, true)
    dataset
