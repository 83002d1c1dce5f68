/// MKL's single-precision matrix products, called directly: libtorch_cpu.so holds libtorch's copy
/// of MKL and exports its Fortran entry points `sgemm_` and `sgemv_`, which libtorch's own addmm, mm
/// and addmv call for float32 tensors on the CPU (at::native::cpublas::gemm, at::native::gemv).
/// Called here with the arguments libtorch would pass, on the same thread with the same thread count,
/// a product gives libtorch's numbers bit for bit, without the dispatcher, a new tensor for each
/// result and, for y = x Wᵀ + b, a copy of the bias through the engine (`DirectGradient`, whose tests
/// compare it with the engine's path). Row-major matrices throughout: a row-major [r; c] matrix is a
/// column-major [c; r] one, so each call below is libtorch's transposed one.
module Vae.Core.Blas

open System
open System.Runtime.InteropServices
open Microsoft.FSharp.NativeInterop

#nowarn "9" // native pointers: the tensors' memory is the engine's, outside the garbage collector

module private Native =
    [<DllImport(Engine.LibtorchCpu, EntryPoint = "sgemm_")>]
    extern void sgemm(byte& transa, byte& transb, int& m, int& n, int& k, float32& alpha, nativeint a, int& lda, nativeint b, int& ldb, float32& beta, nativeint c, int& ldc)

    [<DllImport(Engine.LibtorchCpu, EntryPoint = "sgemv_")>]
    extern void sgemv(byte& trans, int& m, int& n, float32& alpha, nativeint a, int& lda, nativeint x, int& incx, float32& beta, nativeint y, int& incy)

/// Whether this process can call MKL through libtorch: 64-bit Linux, and a libtorch_cpu.so that
/// exports both entry points (a libtorch built without MKL does not).
let available =
    lazy (
        RuntimeInformation.IsOSPlatform OSPlatform.Linux
        && RuntimeInformation.ProcessArchitecture = Architecture.X64
        && (Engine.ensureLoaded ()
            match NativeLibrary.TryLoad "libtorch_cpu.so" with
            | true, handle ->
                let found name = fst (NativeLibrary.TryGetExport(handle, name))
                found "sgemm_" && found "sgemv_"
            | _ -> false))

let private address (p: nativeptr<float32>) = NativePtr.toNativeInt p

/// Column-major C (m × n) ← α·op(A)·op(B) + β·C, op(A) m × k and op(B) k × n ('n' or 't').
let private gemm (transa: char) (transb: char) (m: int) (n: int) (k: int) (a: nativeptr<float32>) (lda: int) (b: nativeptr<float32>) (ldb: int) (beta: float32) (c: nativeptr<float32>) (ldc: int) =
    let mutable ta, tb = byte transa, byte transb
    let mutable m, n, k, lda, ldb, ldc = m, n, k, lda, ldb, ldc
    let mutable alpha, beta = 1.0f, beta
    Native.sgemm (&ta, &tb, &m, &n, &k, &alpha, address a, &lda, address b, &ldb, &beta, address c, &ldc)

/// y ← x Wᵀ + y for x [rows; inputs], W [outputs; inputs], y [rows; outputs] holding the bias in
/// each row: libtorch's addmm(b, x, Wᵀ) after it copies the expanded bias into its result.
let linearAccumulate (rows: int) (inputs: int) (outputs: int) (x: nativeptr<float32>) (weight: nativeptr<float32>) (y: nativeptr<float32>) =
    gemm 't' 'n' outputs rows inputs weight inputs x inputs 1.0f y outputs

/// ∂L/∂W [outputs; inputs] ← (∂L/∂y)ᵀ x, overwriting: libtorch's addmm_(∂W, (∂L/∂y)ᵀ, x, β = 0).
let weightGradient (rows: int) (inputs: int) (outputs: int) (x: nativeptr<float32>) (dy: nativeptr<float32>) (dw: nativeptr<float32>) =
    gemm 'n' 't' inputs outputs rows x inputs dy outputs 0.0f dw inputs

/// ∂L/∂x [rows; inputs] ← (∂L/∂y) W, overwriting: libtorch's mm(∂L/∂y, W).
let inputGradient (rows: int) (inputs: int) (outputs: int) (dy: nativeptr<float32>) (weight: nativeptr<float32>) (dx: nativeptr<float32>) =
    gemm 'n' 'n' inputs rows outputs weight inputs dy outputs 0.0f dx inputs

/// ∂L/∂b [outputs] ← (∂L/∂y)ᵀ 1, overwriting: libtorch's addmv_(∂b, (∂L/∂y)ᵀ, ones, β = 0).
let biasGradient (rows: int) (outputs: int) (dy: nativeptr<float32>) (ones: nativeptr<float32>) (db: nativeptr<float32>) =
    let mutable trans = byte 'n'
    let mutable m, n, lda, incx, incy = outputs, rows, outputs, 1, 1
    let mutable alpha, beta = 1.0f, 0.0f
    Native.sgemv (&trans, &m, &n, &alpha, address dy, &lda, address ones, &incx, &beta, address db, &incy)
