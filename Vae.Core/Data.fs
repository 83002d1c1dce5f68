/// Data sets of grey images in the IDX format, as (Fashion-)MNIST ships them: what a data set is
/// (`Description`, declared once and read by everything after it: models' input width, pictures,
/// the report), its images as tensors, and the loading of any folder of the four standard files.
/// Fashion-MNIST, the default, is FashionMnist.fs; a definition names either (DataSource.fs).
module Vae.Core.Data

open System
open System.IO
open System.Security.Cryptography
open TorchSharp
open Vae.Core.Idx

/// What the library needs to know of a data set beyond its images.
type Description =
    { /// "fashion-mnist", or the name of the folder its files were read from.
      Name: string
      /// The folder its files were read from; None for Fashion-MNIST, whose official files are
      /// taken wherever they are found and checked against their published checksums.
      Folder: string option
      /// Image height and width in pixels: an image is Height × Width values, row by row.
      Height: int
      Width: int
      /// Class names by label.
      Classes: string list
      /// The classes (labels) whose first test images the latent interpolation walks from and to.
      Interpolation: int * int
      /// Training and test images.
      TrainImages: int
      TestImages: int
      /// Each file read (its name in the folder) and the SHA-256 of its decompressed content.
      Files: (string * string) list }

    /// Values per image: the input width of the models trained on it.
    member d.Pixels = d.Height * d.Width

/// A set of images held as one tensor: `Images` is [n; height × width] float32 in [0, 1],
/// `Labels` is [n] int64.
type Split =
    { Images: torch.Tensor
      Labels: torch.Tensor }
    /// Number of images.
    member s.Count = int (s.Images.shape.[0])

/// A data set, loaded: its training and test sets and what it is.
type Dataset = { Description: Description; Train: Split; Test: Split }

/// The most classes a data set may name. The pictures tell the classes apart by colour
/// (matplotlib's ten categorical colours) and the legend has room for ten names.
[<Literal>]
let MaxClasses = 10

/// The most pixels an image may have (64 × 64). The PCA yardstick and the generation distance fit
/// the pixels' covariance, pixels² float64 values: 134 MB and an eigendecomposition of seconds at
/// 4,096, but 34 GB at 256 × 256.
[<Literal>]
let MaxPixels = 4096

/// The images and labels at `indices` (an int64 tensor).
let select (indices: torch.Tensor) (split: Split) : Split =
    { Images = split.Images.index_select(0L, indices); Labels = split.Labels.index_select(0L, indices) }

/// The first `count` images of a split.
let take (count: int) (split: Split) : Split =
    let n = min count split.Count
    { Images = split.Images.narrow(0L, 0L, int64 n); Labels = split.Labels.narrow(0L, 0L, int64 n) }

/// What is wrong with a validation split of `validationCount` of `trainCount` training images, if
/// anything: the one rule, which the plan checks a definition by, and `trainValidationSplit` and the
/// façade's training by. Training validates after every epoch, and needs images left to train on.
let validationSizeProblem (trainCount: int) (validationCount: int) : string option =
    if validationCount < 1 || validationCount >= trainCount then
        let images = trainCount.ToString("N0", Globalization.CultureInfo.InvariantCulture)
        Some $"must be between 1 and {trainCount - 1}, was {validationCount}: the data set has {images} training images, and some must be left to train on"
    else None

/// Images read by position, as training and evaluation read them: all of a split's, or those of a
/// split at given indices (an int64 tensor), gathered batch by batch. A training/validation split
/// held as indices (`trainValidationRows`) holds no copy of the images: a copy of Fashion-MNIST's
/// training images is 188 MB, beside the training set that the probes read in its own order. A
/// gathered batch holds the same values as the same batch of a copy.
type Rows =
    | All of Split
    | Picked of Split * indices: torch.Tensor

module Rows =
    /// Number of images.
    let count (rows: Rows) =
        match rows with
        | All split -> split.Count
        | Picked(_, indices) -> int indices.shape.[0]

    /// The images at `positions` (an int64 tensor), as a new tensor.
    let gather (positions: torch.Tensor) (rows: Rows) =
        match rows with
        | All split -> split.Images.index_select(0L, positions)
        | Picked(split, indices) ->
            use picked = indices.index_select(0L, positions)
            split.Images.index_select(0L, picked)

    /// Images `start` .. `start` + `count` − 1 (of `All`, a view).
    let range (start: int64) (count: int64) (rows: Rows) =
        match rows with
        | All split -> split.Images.narrow(0L, start, count)
        | Picked(split, indices) ->
            use picked = indices.narrow(0L, start, count)
            split.Images.index_select(0L, picked)

    /// The first `count` images.
    let take (count: int) (rows: Rows) =
        match rows with
        | All split -> All(take count split)
        | Picked(split, indices) -> Picked(split, indices.narrow(0L, 0L, int64 (min count (int indices.shape.[0]))))

/// The (training, validation) indices of a permutation drawn from `seed`.
let private splitIndices (seed: int64) (validationCount: int) (train: Split) =
    validationSizeProblem train.Count validationCount |> Option.iter (InvalidInput.raise "data" "validationSize")
    use generator = new torch.Generator(uint64 seed)
    use permutation = torch.randperm(int64 train.Count, generator = generator)
    permutation.narrow(0L, int64 validationCount, int64 (train.Count - validationCount)), permutation.narrow(0L, 0L, int64 validationCount)

/// Splits the training set into (training, validation) by a permutation drawn from `seed`:
/// the same seed gives the same split. The test set is kept for final evaluation only.
let trainValidationSplit (seed: int64) (validationCount: int) (train: Split) : Split * Split =
    let training, validation = splitIndices seed validationCount train
    use training = training
    use validation = validation
    select training train, select validation train

/// `trainValidationSplit` as indices into `train` (`Rows`), without copying its images.
let trainValidationRows (seed: int64) (validationCount: int) (train: Split) : Rows * Rows =
    let training, validation = splitIndices seed validationCount train
    Picked(train, training), Picked(train, validation)

/// Builds a split from parsed image and label arrays, checking that the images are n × `height`
/// × `width`, that the labels agree with them in number, and that every label names one of
/// `classes` classes.
let toSplit (height: int, width: int) (classes: int) (imagesFile: string) (images: IdxArray) (labelsFile: string) (labels: IdxArray) : Split =
    match images.Dimensions, labels.Dimensions with
    | [ n; h; w ], [ m ] when h = height && w = width && n = m ->
        match labels.Data |> Array.tryFindIndex (fun l -> int l >= classes) with
        | Some i -> InvalidInput.about labelsFile $"label {labels.Data.[i]} at index {i} is outside 0–{classes - 1} ({classes} classes)"
        | None ->
            Engine.ensureLoaded ()
            // Every intermediate (and the view) disposed at once: each holds a copy of the file.
            use bytes = torch.tensor(images.Data, dtype = torch.ScalarType.Byte)
            use rows = bytes.view(int64 n, int64 (height * width))
            use labelBytes = torch.tensor(labels.Data, dtype = torch.ScalarType.Byte)
            { Images = rows.to_type(torch.ScalarType.Float32).div_((255.0f).ToScalar())
              Labels = labelBytes.to_type(torch.ScalarType.Int64) }
    | [ _; h; w ], [ m ] when h = height && w = width -> InvalidInput.about labelsFile $"{m} labels, but {imagesFile} holds {images.Dimensions.Head} images"
    | [ _; h; w ], other when h = height && w = width -> InvalidInput.about labelsFile $"labels must have one dimension, the header declares {other}"
    | other, _ -> InvalidInput.about imagesFile $"images must be n × {height} × {width}, the header declares {other}"

/// The SHA-256 of `bytes`, in lower-case hexadecimal.
let sha256Hex (bytes: byte[]) = Convert.ToHexStringLower(SHA256.HashData bytes)

/// A data set in IDX files, as a definition names it: the folder holding the four standard files,
/// its classes' names by label, and the two classes (labels) the interpolation walks between.
type IdxFolder = { Folder: string; Classes: string list; Interpolation: int * int }

/// The four standard file names of an IDX data set, as (Fashion-)MNIST names them: training
/// images and labels, test images and labels. Each may be gzip-compressed, named with ".gz".
let StandardNames = [ "train-images-idx3-ubyte"; "train-labels-idx1-ubyte"; "t10k-images-idx3-ubyte"; "t10k-labels-idx1-ubyte" ]

/// The path of the standard file `name` in `folder`: `name` or `name.gz`, whichever is there.
/// Both there is refused: which one was meant is not for the loader to guess.
let standardFile (folder: string) (name: string) : string =
    if not (Directory.Exists folder) then InvalidInput.about folder "no such folder"
    let raw, gzipped = Path.Combine(folder, name), Path.Combine(folder, name + ".gz")
    match File.Exists raw, File.Exists gzipped with
    | true, false -> raw
    | false, true -> gzipped
    | true, true -> InvalidInput.about folder $"holds both {name} and {name}.gz; keep one"
    | false, false -> InvalidInput.about folder $"""has no {name} or {name}.gz (an IDX data set's four files are {String.Join(", ", StandardNames)}, each raw or .gz)"""

/// The image size (height, width) declared by images of dimensions `dimensions` read from `file`.
let private imageSize (file: string) (dimensions: int list) =
    match dimensions with
    | [ _; h; w ] when h >= 1 && w >= 1 && h * w <= MaxPixels -> h, w
    | [ _; h; w ] when h >= 1 && w >= 1 ->
        InvalidInput.about file $"images of {h} × {w} pixels are larger than this library handles (at most {MaxPixels:N0} pixels, e.g. 64 × 64)"
    | other -> InvalidInput.about file $"images must be n × height × width with both at least 1, the header declares {other}"

/// The training images' count and size (count, height, width) of the data set in `folder`, from
/// its training images' header alone.
let trainingShape (folder: string) : int * int * int =
    let file = standardFile folder StandardNames.[0]
    let dimensions = readDimensions file
    let h, w = imageSize file dimensions
    dimensions.Head, h, w

/// Test images shown side by side in the report (reconstructions).
[<Literal>]
let Examples = 9

/// Loads the data set of `source`: the four standard files of its folder, each checked as a
/// Fashion-MNIST file is (structure, truncation, counts), its images n × height × width with the
/// same size in the training and test sets, its labels below the number of classes; the SHA-256 of
/// each file's decompressed content is recorded. The test set must hold `Examples` images and an
/// image of each class the interpolation walks between.
let loadFolder (source: IdxFolder) : Dataset =
    let read name =
        let path = standardFile source.Folder name
        let content = readContent DefaultLimit path
        path, sha256Hex content, parse path content
    let files = StandardNames |> List.map read
    let path i = let p, _, _ = files.[i] in p
    let array i = let _, _, a = files.[i] in a
    let height, width = imageSize (path 0) (array 0).Dimensions
    match (array 2).Dimensions with
    | [ _; h; w ] when (h, w) <> (height, width) ->
        InvalidInput.about (path 2) $"images are {h} × {w}, the training images ({Path.GetFileName(path 0)}) are {height} × {width}"
    | _ -> ()
    let classes = source.Classes.Length
    let train = toSplit (height, width) classes (path 0) (array 0) (path 1) (array 1)
    let test = toSplit (height, width) classes (path 2) (array 2) (path 3) (array 3)
    if test.Count < Examples then
        InvalidInput.about (path 3) $"holds {test.Count} test images; the report shows {Examples} of them"
    let testLabels = (array 3).Data
    let from, ``to`` = source.Interpolation
    for label in [ from; ``to`` ] do
        if not (Array.contains (byte label) testLabels) then
            InvalidInput.about (path 3) $"has no test image of class {label} ({Text.quote source.Classes.[label]}), which the interpolation walks between"
    { Description =
        { Name = Path.GetFileName(Path.TrimEndingDirectorySeparator source.Folder)
          Folder = Some source.Folder
          Height = height
          Width = width
          Classes = source.Classes
          Interpolation = source.Interpolation
          TrainImages = train.Count
          TestImages = test.Count
          Files = files |> List.map (fun (p, sha, _) -> Path.GetFileName p, sha) }
      Train = train
      Test = test }
