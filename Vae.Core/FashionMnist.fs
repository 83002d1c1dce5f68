/// Zalando's Fashion-MNIST: 60,000 training and 10,000 test images, 28 × 28, ten classes.
module Vae.Core.FashionMnist

open System
open System.IO
open System.Security.Cryptography
open TorchSharp
open Vae.Core.Idx

/// Pixels per image (28 × 28).
[<Literal>]
let Pixels = 784

/// Class names by label.
let classNames =
    [| "T-shirt/top"; "Trouser"; "Pullover"; "Dress"; "Coat"; "Sandal"; "Shirt"; "Sneaker"; "Bag"; "Ankle boot" |]

/// A set of images held as one tensor: `Images` is [n; 784] float32 in [0, 1], `Labels` is [n] int64.
type Split =
    { Images: torch.Tensor
      Labels: torch.Tensor }
    /// Number of images.
    member s.Count = int (s.Images.shape.[0])

/// The official training and test sets.
type Dataset = { Train: Split; Test: Split }

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

/// Where the data is looked for, in order: an explicit folder, $FASHION_MNIST_DIR, the
/// repository's data/fashion-mnist (from the working folder, then from the program's folder),
/// Debian's package folder.
let searchDirectories (explicitDir: string option) =
    [ explicitDir
      Environment.GetEnvironmentVariable EnvironmentVariable |> Option.ofObj |> Option.filter (String.IsNullOrWhiteSpace >> not)
      repositoryDirectory Environment.CurrentDirectory
      repositoryDirectory AppContext.BaseDirectory
      Some DebianDirectory ]
    |> List.choose id
    |> List.distinct

/// The first folder of `searchDirectories` that holds all four files. An explicit folder is never
/// passed over: if it lacks a file, that is the error.
let locate (explicitDir: string option) : string =
    let complete dir = officialFiles |> List.forall (fun f -> File.Exists(Path.Combine(dir, f.Name)))
    match explicitDir with
    | Some dir when not (complete dir) ->
        let missing = officialFiles |> List.filter (fun f -> not (File.Exists(Path.Combine(dir, f.Name)))) |> List.map _.Name
        InvalidInput.about dir $"""no Fashion-MNIST files here (missing {String.Join(", ", missing)})"""
    | _ ->
        let searched = searchDirectories explicitDir
        match searched |> List.tryFind complete with
        | Some dir -> dir
        | None ->
            InvalidInput.about "Fashion-MNIST" $"""the four files were not found in any of: {String.Join("; ", searched)} (set {EnvironmentVariable} or install Debian's dataset-fashion-mnist)"""

let private sha256Hex (bytes: byte[]) = Convert.ToHexStringLower(SHA256.HashData bytes)

/// Reads one official file of `dir` (no more than the official file's size decompressed), checks
/// the SHA-256 of its decompressed content, and parses it.
let readOfficial (dir: string) (file: OfficialFile) : IdxArray =
    let path = Path.Combine(dir, file.Name)
    let content = readContent file.DecompressedSize path
    let actual = sha256Hex content
    if actual <> file.Sha256 then
        // Parse first: a structural fault is the more useful message when there is one.
        parse path content |> ignore
        InvalidInput.about path $"SHA-256 of the decompressed content is {actual}, the official file's is {file.Sha256}"
    parse path content

/// Builds a split from parsed image and label arrays, checking that they agree.
let toSplit (imagesFile: string) (images: IdxArray) (labelsFile: string) (labels: IdxArray) : Split =
    match images.Dimensions, labels.Dimensions with
    | [ n; 28; 28 ], [ m ] when n = m ->
        match labels.Data |> Array.tryFindIndex (fun l -> l > 9uy) with
        | Some i -> InvalidInput.about labelsFile $"label {labels.Data.[i]} at index {i} is outside 0–9"
        | None ->
            Engine.ensureLoaded ()
            // Every intermediate (and the view) disposed at once: each holds a copy of the file.
            use bytes = torch.tensor(images.Data, dtype = torch.ScalarType.Byte)
            use rows = bytes.view(int64 n, int64 Pixels)
            use labelBytes = torch.tensor(labels.Data, dtype = torch.ScalarType.Byte)
            { Images = rows.to_type(torch.ScalarType.Float32).div_((255.0f).ToScalar())
              Labels = labelBytes.to_type(torch.ScalarType.Int64) }
    | [ _; 28; 28 ], [ m ] -> InvalidInput.about labelsFile $"{m} labels, but {imagesFile} holds {images.Dimensions.Head} images"
    | [ _; 28; 28 ], other -> InvalidInput.about labelsFile $"labels must have one dimension, the header declares {other}"
    | other, _ -> InvalidInput.about imagesFile $"images must be n × 28 × 28, the header declares {other}"

let private loadSplit dir (images: OfficialFile) (labels: OfficialFile) =
    toSplit (Path.Combine(dir, images.Name)) (readOfficial dir images) (Path.Combine(dir, labels.Name)) (readOfficial dir labels)

/// Loads the official training and test sets from the first folder that holds them (see `locate`).
let load (explicitDir: string option) : Dataset =
    let dir = locate explicitDir
    let dataset =
        { Train = loadSplit dir trainImages trainLabels
          Test = loadSplit dir testImages testLabels }
    // The compressed, decompressed and parsed copies of the files (about 200 MB of large arrays)
    // are garbage now; an aggressive collection hands their memory back before training starts
    // (measured: 210 MB less resident; a plain collection keeps it committed).
    GC.Collect(2, GCCollectionMode.Aggressive, true, true)
    dataset

/// The images and labels at `indices` (an int64 tensor).
let select (indices: torch.Tensor) (split: Split) : Split =
    { Images = split.Images.index_select(0L, indices); Labels = split.Labels.index_select(0L, indices) }

/// The first `count` images of a split.
let take (count: int) (split: Split) : Split =
    let n = min count split.Count
    { Images = split.Images.narrow(0L, 0L, int64 n); Labels = split.Labels.narrow(0L, 0L, int64 n) }

/// Splits the training set into (training, validation) by a permutation drawn from `seed`:
/// the same seed gives the same split. The test set is kept for final evaluation only.
let trainValidationSplit (seed: int64) (validationCount: int) (train: Split) : Split * Split =
    if validationCount < 0 || validationCount >= train.Count then
        InvalidInput.raise "data" "validationSize" $"must be between 0 and {train.Count - 1}, was {validationCount}"
    use generator = new torch.Generator(uint64 seed)
    use permutation = torch.randperm(int64 train.Count, generator = generator)
    let validation = permutation.narrow(0L, 0L, int64 validationCount)
    let training = permutation.narrow(0L, int64 validationCount, int64 (train.Count - validationCount))
    select training train, select validation train
