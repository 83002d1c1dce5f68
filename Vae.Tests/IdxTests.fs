module Vae.Tests.IdxTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Threading.Tasks
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

let private problem (content: byte[]) = messageOf<InvalidInputException> (fun () -> parse "f.idx" content |> ignore)

let private refusal (f: unit -> 'a) = messageOf<InvalidInputException> (f >> ignore)

/// Writes a gzip file of `size` zero bytes in 1 MB pieces, so that the test never holds them all.
let private zerosGzip (path: string) (size: int64) =
    use file = File.Create path
    use zip = new GZipStream(file, CompressionLevel.SmallestSize)
    let block = Array.zeroCreate<byte> (1 <<< 20)
    for _ in 1L .. size / int64 block.Length do
        zip.Write(block, 0, block.Length)

[<Tests>]
let tests =
    testList "Idx" [
        testPropertyWithConfig config "serialising then parsing gives the array back" (Prop.forAll arrays (fun a -> parse "x" (serialise a) = a))

        testPropertyWithConfig config "gzip-compressed files read the same as raw ones"
            (Prop.forAll arrays (fun a -> parse "x" (decompress "x" DefaultLimit (gzip (serialise a))) = a))

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
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> decompress "f.gz" DefaultLimit truncated |> ignore)) "f.gz: corrupt or truncated gzip stream" "truncated"
            let damaged = Array.copy compressed
            damaged.[12] <- damaged.[12] ^^^ 0xFFuy
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> decompress "f.gz" DefaultLimit damaged |> ignore)) "gzip stream" "damaged"
        }

        test "images and labels that disagree on the count are named" {
            let m = messageOf<InvalidInputException> (fun () -> Data.toSplit (28, 28) 10 "i" (parse "i" (images 3)) "l" (parse "l" (labels [ 1uy; 2uy ])) |> ignore)
            Expect.stringContains m "l: 2 labels, but i holds 3 images" "count mismatch"
        }

        test "a label outside 0–9 is named with its index" {
            let m = messageOf<InvalidInputException> (fun () -> Data.toSplit (28, 28) 10 "i" (parse "i" (images 3)) "l" (parse "l" (labels [ 1uy; 12uy; 2uy ])) |> ignore)
            Expect.stringContains m "label 12 at index 1 is outside 0–9" "label range"
        }

        test "images that are not 28 × 28 are named" {
            let m = messageOf<InvalidInputException> (fun () -> Data.toSplit (28, 28) 10 "i" (parse "i" (serialise { Dimensions = [ 1; 2; 2 ]; Data = Array.zeroCreate 4 })) "l" (parse "l" (labels [ 1uy ])) |> ignore)
            Expect.stringContains m "images must be n × 28 × 28" "shape"
        }

        test "an official file whose content differs is named with both checksums" {
            let dir = temporaryDirectory ()
            File.WriteAllBytes(Path.Combine(dir, FashionMnist.testLabels.Name), gzip (labels [ 1uy; 2uy ]))
            let m = messageOf<InvalidInputException> (fun () -> FashionMnist.readOfficial dir FashionMnist.testLabels |> ignore)
            Expect.stringContains m "SHA-256 of the decompressed content is" "checksum"
            Expect.stringContains m FashionMnist.testLabels.Sha256 "the expected checksum"
        }

        test "an official file that is also malformed reports the structural fault" {
            let dir = temporaryDirectory ()
            File.WriteAllBytes(Path.Combine(dir, FashionMnist.testLabels.Name), gzip (Array.append (labels [ 1uy ]) [| 0uy |]))
            let m = messageOf<InvalidInputException> (fun () -> FashionMnist.readOfficial dir FashionMnist.testLabels |> ignore)
            Expect.stringContains m "1 trailing bytes" "structure first"
        }
    
        test "a gzip bomb in an official file's place is refused without being inflated" {
            let dir = temporaryDirectory ()
            let path = Path.Combine(dir, FashionMnist.testLabels.Name)
            zerosGzip path (64L <<< 20)
            Expect.isLessThan (FileInfo path).Length (1L <<< 20) "64 MB of zeros in less than 1 MB"
            let mutable m = ""
            let allocated = allocatedBy (fun () -> m <- refusal (fun () -> FashionMnist.readOfficial dir FashionMnist.testLabels))
            Expect.equal m $"{path}: decompresses to more than 10008 bytes, the most it may hold (a gzip bomb or the wrong file)" "message"
            Expect.isLessThan allocated (4L <<< 20) "far less allocated than the 64 MB it inflates to"
        }

        test "decompression stops at its limit, which a stream of exactly that size meets" {
            let bomb = gzip (Array.zeroCreate 100000)
            Expect.equal (refusal (fun () -> decompress "f.gz" 1000 bomb)) "f.gz: decompresses to more than 1000 bytes, the most it may hold (a gzip bomb or the wrong file)" "over the limit"
            Expect.equal (decompress "f.gz" 100000 bomb).Length 100000 "exactly the limit"
            Expect.equal (refusal (fun () -> decompress "f.idx" 1000 (Array.zeroCreate 1001))) "f.idx: is 1001 bytes, more than the 1000 it may hold" "raw content"
        }

        test "a gzip trailer that lies about the size sizes no buffer and is caught" {
            let lying = gzip (images 1)
            Array.fill lying (lying.Length - 4) 4 0xFFuy
            let mutable m = ""
            let allocated = allocatedBy (fun () -> m <- refusal (fun () -> decompress "f.gz" DefaultLimit lying))
            // zlib checks the trailer too; its message is the runtime's.
            Expect.stringStarts m "f.gz: corrupt gzip stream (" "refused"
            Expect.isLessThan allocated (4L <<< 20) "no buffer of the size the trailer claims"
        }

        test "dimensions whose product overflows any integer are named with the size they describe" {
            let header = Array.append [| 0uy; 0uy; 8uy; 3uy |] (Array.replicate 3 [| 0x7Fuy; 0xFFuy; 0xFFuy; 0xFFuy |] |> Array.concat)
            Expect.equal
                (problem (Array.append header [| 1uy; 2uy |]))
                "f.idx: the header's dimensions [2147483647; 2147483647; 2147483647] describe 9903520300447984150353281023 data bytes, more than any file this reader accepts; the file has 2"
                "overflow"
        }

        test "a path that is not a regular file is refused without being opened" {
            let dir = temporaryDirectory ()
            Expect.equal (refusal (fun () -> read "/dev/zero")) "/dev/zero: is not a regular file (a character device)" "a device that never ends"
            Expect.equal (refusal (fun () -> read dir)) $"{dir}: is not a regular file (a directory)" "a folder"
            let fifo = Path.Combine(dir, "fifo")
            use mkfifo = Process.Start("mkfifo", [ fifo ])
            mkfifo.WaitForExit()
            // Opening a FIFO blocks until a writer comes: a reader that opened it would not return.
            let reading = Task.Run(fun () -> refusal (fun () -> read fifo))
            Expect.isTrue (reading.Wait(TimeSpan.FromSeconds 10.0)) "returned"
            Expect.equal reading.Result $"{fifo}: is not a regular file (a FIFO)" "a FIFO"
            File.CreateSymbolicLink(Path.Combine(dir, FashionMnist.testLabels.Name), "/dev/zero") |> ignore
            Expect.equal
                (refusal (fun () -> FashionMnist.readOfficial dir FashionMnist.testLabels))
                $"{Path.Combine(dir, FashionMnist.testLabels.Name)}: is not a regular file (a character device)"
                "an official file's name linked to a device"
        }

        test "a file longer than its content may be is refused by its length before it is read" {
            let dir = temporaryDirectory ()
            let raw = Path.Combine(dir, "raw.idx")
            sparse raw [| 0uy; 0uy; 8uy; 1uy |] (2L <<< 30)
            let mutable m = ""
            let allocated = allocatedBy (fun () -> m <- refusal (fun () -> read raw))
            Expect.equal m $"{raw}: is 2147483648 bytes, more than the 1073741824 it may hold" "raw, the default limit"
            Expect.isLessThan allocated (4L <<< 20) "not read"
            let compressed = Path.Combine(dir, "c.idx.gz")
            sparse compressed [| 0x1Fuy; 0x8Buy |] (64L <<< 20)
            Expect.equal
                (refusal (fun () -> readContent 1000000 compressed))
                $"{compressed}: is 67108864 bytes, more than a gzip file of at most 1000000 bytes can be"
                "gzip"
            File.Delete raw
            File.Delete compressed
        }
    ]
