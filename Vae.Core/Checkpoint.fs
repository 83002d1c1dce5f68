/// Saving and loading trained models in the safetensors format (Safetensors.fs), so that PyTorch
/// users can read the weights with `safetensors.torch.load_file`. The architecture is kept in the
/// header's `__metadata__`.
module Vae.Core.Checkpoint

open System
open TorchSharp
open Vae.Core.Layers

/// Written to `__metadata__.format`.
[<Literal>]
let Format = "vae-core/1"

/// The architecture's metadata fields, read back by `Safetensors.architecture`: a perceptron with
/// β = 1 writes kind, input, hidden and latent only (as before convolutions and β existed).
let architectureMetadata (a: Architecture) =
    [ "kind", ModelKind.key a.Kind
      "input", string a.Input
      "hidden", String.Join(",", a.Hidden)
      "latent", string a.Latent
      match a.Image with
      | Some(height, width) ->
          "conv", String.Join(",", a.Conv)
          "height", string height
          "width", string width
      | None -> ()
      if a.Beta <> 1.0 then "beta", a.Beta.ToString("R", Globalization.CultureInfo.InvariantCulture) ]

/// The header of `model`'s checkpoint: one tensor per slot of its layout, in layout order.
let private headerOf (model: Model) =
    let p = model.Parameters
    let elementSize = int64 p.Values.ElementSize
    let dtype = Safetensors.dtypeName p.Values.dtype
    if dtype = "U8" then invalidArg (nameof model) $"{p.Values.dtype} parameters cannot be saved"
    Safetensors.header
        (("format", Format) :: architectureMetadata model.Architecture)
        (p.Layout |> List.map (fun slot -> { Safetensors.Name = slot.Name; Safetensors.DType = dtype; Safetensors.Shape = slot.Shape; Safetensors.Bytes = elements slot * elementSize }))

/// The checkpoint of `model` as bytes.
let toBytes (model: Model) : byte[] =
    use values = model.Parameters.Values.contiguous()
    Array.append (headerOf model) (values.bytes.ToArray())

/// Saves `model` to `path`; the file appears whole or not at all (`Safetensors.writeAtomically`).
let save (path: string) (model: Model) =
    let header = headerOf model
    use values = model.Parameters.Values.contiguous()
    Safetensors.writeAtomically path (fun stream ->
        stream.Write(header, 0, header.Length)
        stream.Write(Span<byte>.op_Implicit values.bytes))

/// What the header promises, checked against the architecture and the data section's length.
type private Plan =
    { Architecture: Architecture
      Layout: Slot list
      DType: torch.ScalarType
      /// Where each slot's bytes start in the data section, in `Layout` order.
      Starts: int64 list }

/// Checks every field of the header, and every tensor's dtype, shape and byte range against the
/// architecture the metadata claims and a data section of `dataLength` bytes. Nothing is allocated
/// here that the header's own length does not bound.
let private plan (file: string) (header: ReadOnlyMemory<byte>) (dataLength: int64) : Plan =
    let fail problem = InvalidInput.about file problem
    Safetensors.readHeader file "checkpoint" header (fun header ->
        Safetensors.checkFormat header Format
        let architecture = Safetensors.architecture header dataLength
        let layout = Architecture.layout architecture
        let owner = $"the architecture {architecture}"
        Safetensors.checkNames header (layout |> List.map _.Name |> Set.ofList) owner
        let entries = layout |> List.map (fun slot -> slot, Safetensors.entry header slot.Name)
        let dtype =
            match entries |> List.map (fun (_, (d, _, _)) -> d) |> List.distinct with
            | [ "F32" ] -> torch.ScalarType.Float32
            | [ "F64" ] -> torch.ScalarType.Float64
            | dtypes -> fail $"""parameters must all be F32 or all F64, found {String.Join(", ", dtypes |> List.truncate 5 |> List.map Safetensors.quoted)}"""
        let size slot = elements slot * Safetensors.floatSize dtype
        let starts =
            entries
            |> List.map (fun (slot, (_, shape, offsets)) ->
                if shape <> slot.Shape then
                    fail $"tensor {slot.Name} has shape {shape}, the architecture {architecture} needs {slot.Shape}"
                match Safetensors.start offsets (size slot) dataLength with
                | Some first -> first
                | None -> fail $"tensor {slot.Name} has data_offsets {offsets}, which do not hold {elements slot} values within the {dataLength} data bytes")
        Safetensors.checkTiling file (List.map2 (fun (slot: Slot) first -> slot.Name, first, size slot) layout starts) dataLength owner
        { Architecture = architecture; Layout = layout; DType = dtype; Starts = starts })

/// The model the plan describes, its values copied from `data` (the data section). Non-finite
/// values are refused first, on the file's bytes: a model holding one makes every output NaN.
let private build (file: string) (plan: Plan) (data: ReadOnlyMemory<byte>) : Model =
    let size slot = elements slot * Safetensors.floatSize plan.DType
    for slot, start in List.zip plan.Layout plan.Starts do
        let bad = Safetensors.nonFinite plan.DType (data.Span.Slice(int start, int (size slot)))
        if bad > 0 then
            InvalidInput.about file $"tensor {slot.Name} holds non-finite values ({bad} of {elements slot})"
    let model = allocate plan.DType plan.Layout |> Model.ofParameters plan.Architecture
    let values = model.Parameters.Values.bytes
    // The parameters are one flat buffer in layout order; the file may order its tensors otherwise.
    let targets = plan.Layout |> List.scan (fun target slot -> target + size slot) 0L
    for (slot, start), target in List.zip (List.zip plan.Layout plan.Starts) (List.take plan.Layout.Length targets) do
        data.Span.Slice(int start, int (size slot)).CopyTo(values.Slice(int target))
    model

/// Reads a model from checkpoint bytes; `file` only names the source in errors. Any fault in the
/// bytes raises InvalidInputException, naming the field at fault, before anything is allocated.
let ofBytes (file: string) (bytes: byte[]) : Model = Safetensors.ofBytes file bytes (plan file) (build file)

/// Loads a model saved by `save`; rejects, naming the problem, a file that is not such a
/// checkpoint or whose tensors do not match the architecture it claims. Only a regular file is
/// opened, and only the header is read before the file's length is checked against it.
let load (path: string) : Model = Safetensors.read path "a model" (plan path) (build path)
