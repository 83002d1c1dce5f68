/// The state of a CPU random generator (`torch.Generator.get_state`: libtorch's
/// CPUGeneratorImplState, 5,056 bytes), checked before it is given back to a generator. libtorch
/// refuses a state it cannot use with a C++ exception that TorchSharp 0.107's `set_state` does not
/// catch, and the process ends (measured: "terminate called after throwing an instance of
/// 'c10::Error' … Invalid mt19937 state"); so a state from a file is checked here first, field by
/// field, by the rules libtorch's `set_state` applies and a little stricter.
module Vae.Core.GeneratorState

open System
open System.Buffers.Binary
open TorchSharp

/// Bytes of a state: CPUGeneratorImplState in libtorch 2.x (a test holds libtorch to it).
[<Literal>]
let Bytes = 5056

/// Words of the Mersenne Twister's state (MERSENNE_STATE_N).
[<Literal>]
let private Words = 624

// The layout of CPUGeneratorImplState (aten/src/ATen/CPUGeneratorImpl.cpp), x86-64 and arm64:
// legacy_pod { uint64 the_initial_seed @0; int left @8; int seeded @12; uint64 next @16;
// uint64 state[624] @24; double normal_x @5016, normal_y @5024, normal_rho @5032;
// int normal_is_valid @5040 } (5048 with padding); float next_float_normal_sample @5048;
// bool is_next_float_normal_sample_valid @5052; padding to 5056.
let private seedAt, leftAt, seededAt, nextAt, stateAt = 0, 8, 12, 16, 24
let private normalXAt, normalRhoAt, normalValidAt, floatSampleAt, floatValidAt = 5016, 5032, 5040, 5048, 5052

/// The seed the generator was created with.
let seed (state: byte[]) = BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan(state, seedAt, 8))

/// The first rule the state breaks, if any: the length; the Mersenne Twister's position
/// (`left` in 1..624, `next` at most 624: libtorch's own check, whose failure ends the process),
/// that it is seeded, and its words 32-bit; the cached normal samples flagged 0 or 1 and finite
/// when flagged.
let problem (state: byte[]) : string option =
    let int32At (at: int) = BinaryPrimitives.ReadInt32LittleEndian(ReadOnlySpan(state, at, 4))
    let uint64At (at: int) = BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan(state, at, 8))
    let doubleAt (at: int) = BinaryPrimitives.ReadDoubleLittleEndian(ReadOnlySpan(state, at, 8))
    if state.Length <> Bytes then Some $"is {state.Length} bytes, a generator's state is {Bytes}"
    else
        let left = int32At leftAt
        let next = uint64At nextAt
        let mutable wideWord = -1
        for i in Words - 1 .. -1 .. 0 do
            if uint64At (stateAt + 8 * i) > uint64 UInt32.MaxValue then wideWord <- i
        if left < 1 || left > Words then Some $"has left = {left}, outside 1..{Words}"
        elif next > uint64 Words then Some $"has next = {next}, more than {Words}"
        elif int32At seededAt <> 1 then Some $"has seeded = {int32At seededAt}, not 1"
        elif wideWord >= 0 then Some $"has state word {wideWord} = {uint64At (stateAt + 8 * wideWord)}, more than 32 bits"
        else
            match int32At normalValidAt, state.[floatValidAt] with
            | valid, _ when valid <> 0 && valid <> 1 -> Some $"has normal_is_valid = {valid}, not 0 or 1"
            | 1, _ when not (Double.IsFinite(doubleAt normalXAt) && Double.IsFinite(doubleAt normalRhoAt)) ->
                Some "has a cached normal sample that is not finite"
            | _, valid when valid > 1uy -> Some $"has is_next_float_normal_sample_valid = {valid}, not 0 or 1"
            | _, 1uy when not (Single.IsFinite(BinaryPrimitives.ReadSingleLittleEndian(ReadOnlySpan(state, floatSampleAt, 4)))) ->
                Some "has a cached float normal sample that is not finite"
            | _ -> None

/// The generator's state, a new uint8 tensor the caller disposes.
let get (generator: torch.Generator) : torch.Tensor = generator.get_state ()

/// Puts `state` (a uint8 tensor of `Bytes` values) into `generator`, after checking it: a state
/// that breaks a rule raises ArgumentException rather than ending the process in libtorch.
let set (generator: torch.Generator) (state: torch.Tensor) =
    if state.dtype <> torch.ScalarType.Byte || state.device_type <> DeviceType.CPU || state.dim () <> 1L then
        invalidArg (nameof state) $"a generator's state is a one-dimensional uint8 CPU tensor, not {state.dtype} {state.shape}"
    use contiguous = state.contiguous ()
    match problem (contiguous.bytes.ToArray()) with
    | Some p -> invalidArg (nameof state) $"the generator's state {p}"
    | None -> generator.set_state contiguous
