namespace Vae.Core

open Vae.Core.Data

/// The data set a definition trains on.
type DataSource =
    /// Fashion-MNIST (the default), found as `FashionMnist.locate` finds it: in the folder a run is
    /// given (the runner's --data), $FASHION_MNIST_DIR, the repository's or Debian's folder.
    | FashionMnistFiles
    /// Any data set in the IDX format: the four standard files of a folder (an absolute path).
    | IdxFolder of IdxFolder

module DataSource =
    /// The training images' count and size (count, height, width), read from the training images'
    /// header alone: a plan checks definitions against them before any data is loaded.
    let trainingShape (source: DataSource) : int * int * int =
        match source with
        | FashionMnistFiles -> FashionMnist.description.TrainImages, FashionMnist.description.Height, FashionMnist.description.Width
        | IdxFolder folder -> Data.trainingShape folder.Folder

    /// The data set of `source`; `fashionMnistFolder` is where Fashion-MNIST is looked for first.
    let load (fashionMnistFolder: string option) (source: DataSource) : Dataset =
        match source with
        | FashionMnistFiles -> FashionMnist.load fashionMnistFolder
        | IdxFolder folder -> Data.loadFolder folder

    /// Each of `sources` loaded once, in order.
    let loadAll (fashionMnistFolder: string option) (sources: DataSource list) : Map<DataSource, Dataset> =
        sources |> List.distinct |> List.map (fun s -> s, load fashionMnistFolder s) |> Map.ofList
