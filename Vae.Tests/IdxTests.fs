module Vae.Tests.IdxTests

open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Vae.Core
open Vae.Core.Idx
open Vae.Tests.Shared

/// Small IDX arrays of any rank from 1 to 3.
let private arrays =
    gen {
        let! dimensions = Gen.listOfLength 3 (Gen.choose (0, 6)) |> Gen.zip (Gen.choose (1, 3)) |> Gen.map (fun (rank, ds) -> List.take rank ds)
        let! data = Gen.arrayOfLength (List.fold (*) 1 dimensions) (Gen.choose (0, 255) |> Gen.map byte)
        return { Dimensions = dimensions; Data = data }
    }
    |> Arb.fromGen

let private config = { FsCheckConfig.defaultConfig with arbitrary = [] ; maxTest = 200 }

/// A valid pair of raw image and label contents: `count` images.
let private images count = serialise { Dimensions = [ count; 28; 28 ]; Data = Array.init (count * 784) byte }
let private labels (values: byte list) = serialise { Dimensions = [ values.Length ]; Data = Array.ofList values }

let private problem (content: byte[]) = messageOf<DataFileException> (fun () -> parse "f.idx" content |> ignore)

[<Tests>]
let tests =
    testList "Idx" [
        testPropertyWithConfig config "serialising then parsing gives the array back" (Prop.forAll arrays (fun a -> parse "x" (serialise a) = a))

        testPropertyWithConfig config "gzip-compressed files read the same as raw ones"
            (Prop.forAll arrays (fun a -> parse "x" (decompress "x" (gzip (serialise a))) = a))

        test "files on disk, raw and compressed, read back" {
            let dir = temporaryDirectory ()
            let a = { Dimensions = [ 2; 3 ]; Data = [| 1uy .. 6uy |] }
            File.WriteAllBytes(Path.Combine(dir, "a.idx"), serialise a)
            File.WriteAllBytes(Path.Combine(dir, "a.idx.gz"), gzip (serialise a))
            Expect.equal (read (Path.Combine(dir, "a.idx"))) a "raw"
            Expect.equal (read (Path.Combine(dir, "a.idx.gz"))) a "gzip"
        }

        test "a bad magic number is named" {
            let content = serialise { Dimensions = [ 1 ]; Data = [| 0uy |] }
            content.[0] <- 0x12uy
            Expect.stringContains (problem content) "bad magic number 0x12" "magic"
        }

        test "an unsupported data type is named" {
            let content = serialise { Dimensions = [ 1 ]; Data = [| 0uy |] }
            content.[2] <- 0x0Duy
            Expect.stringContains (problem content) "data type 0x0D is not supported" "type"
        }

        test "truncated data is named with both sizes" {
            let content = images 2
            Expect.stringContains (problem content.[.. content.Length - 11]) "truncated: 1558 data bytes" "truncation"
        }

        test "a truncated header is named" {
            Expect.stringContains (problem [| 0uy; 0uy; 8uy; 3uy; 0uy |]) "truncated header" "header"
        }

        test "trailing bytes are named" {
            Expect.stringContains (problem (Array.append (labels [ 1uy ]) [| 7uy; 7uy |])) "2 trailing bytes" "trailing"
        }

        test "a truncated or damaged gzip stream is named" {
            let compressed = gzip (images 3)
            let truncated = compressed.[.. compressed.Length / 2]
            Expect.stringContains (messageOf<DataFileException> (fun () -> decompress "f.gz" truncated |> ignore)) "f.gz: corrupt or truncated gzip stream" "truncated"
            let damaged = Array.copy compressed
            damaged.[12] <- damaged.[12] ^^^ 0xFFuy
            Expect.stringContains (messageOf<DataFileException> (fun () -> decompress "f.gz" damaged |> ignore)) "gzip stream" "damaged"
        }

        test "images and labels that disagree on the count are named" {
            let m = messageOf<DataFileException> (fun () -> FashionMnist.toSplit "i" (parse "i" (images 3)) "l" (parse "l" (labels [ 1uy; 2uy ])) |> ignore)
            Expect.stringContains m "l: 2 labels, but i holds 3 images" "count mismatch"
        }

        test "a label outside 0–9 is named with its index" {
            let m = messageOf<DataFileException> (fun () -> FashionMnist.toSplit "i" (parse "i" (images 3)) "l" (parse "l" (labels [ 1uy; 12uy; 2uy ])) |> ignore)
            Expect.stringContains m "label 12 at index 1 is outside 0–9" "label range"
        }

        test "images that are not 28 × 28 are named" {
            let m = messageOf<DataFileException> (fun () -> FashionMnist.toSplit "i" (parse "i" (serialise { Dimensions = [ 1; 2; 2 ]; Data = Array.zeroCreate 4 })) "l" (parse "l" (labels [ 1uy ])) |> ignore)
            Expect.stringContains m "images must be n × 28 × 28" "shape"
        }

        test "an official file whose content differs is named with both checksums" {
            let dir = temporaryDirectory ()
            File.WriteAllBytes(Path.Combine(dir, FashionMnist.testLabels.Name), gzip (labels [ 1uy; 2uy ]))
            let m = messageOf<DataFileException> (fun () -> FashionMnist.readOfficial dir FashionMnist.testLabels |> ignore)
            Expect.stringContains m "SHA-256 of the decompressed content is" "checksum"
            Expect.stringContains m FashionMnist.testLabels.Sha256 "the expected checksum"
        }

        test "an official file that is also malformed reports the structural fault" {
            let dir = temporaryDirectory ()
            File.WriteAllBytes(Path.Combine(dir, FashionMnist.testLabels.Name), gzip (Array.append (labels [ 1uy ]) [| 0uy |]))
            let m = messageOf<DataFileException> (fun () -> FashionMnist.readOfficial dir FashionMnist.testLabels |> ignore)
            Expect.stringContains m "1 trailing bytes" "structure first"
        }
    ]
