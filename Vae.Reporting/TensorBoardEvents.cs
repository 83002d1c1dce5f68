using System.Buffers.Binary;
using System.Text;

namespace Vae.Reporting;

/// <summary>
/// TensorBoard's event file: a TFRecord file of Event protocol buffers (tensorflow/core/util/event.proto), written
/// here directly. TorchSharp's own SummaryWriter (0.107.0) was not used: it names its file after the time of
/// writing, the host and the process, takes the wall time as a single-precision float (to within 128 s of a Unix
/// time) defaulting to DateTime.Now.Ticks rather than seconds, and appends to its file event by event, so that a file
/// cut short looks whole; these files must be written again, the same, from the results.
/// </summary>
/// <remarks>A record is the data's length (uint64), the masked CRC-32C of those 8 bytes (uint32), the data, and the
/// masked CRC-32C of the data (uint32), all little-endian (tensorflow/core/lib/io/record_writer.cc). The protocol
/// buffer fields: Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; },
/// Summary { repeated Value value = 1; }, Value { string tag = 1; float simple_value = 2; }.</remarks>
internal static class TensorBoardEvents
{
    /// <summary>The first event of every event file, which names the format.</summary>
    public const string FileVersion = "brain.Event:2";

    /// <summary>The event that opens a file: its format version at <paramref name="wallTime"/>.</summary>
    /// <param name="wallTime">Seconds since the Unix epoch.</param>
    public static byte[] Version(double wallTime)
    {
        var e = new Protobuf();
        e.Double(1, wallTime);
        e.Text(3, FileVersion);
        return e.ToArray();
    }

    /// <summary>One event of scalars: each (tag, value) a value of its summary, all at <paramref name="step"/>.</summary>
    /// <param name="wallTime">Seconds since the Unix epoch.</param>
    /// <param name="step">The step, here the epoch.</param>
    /// <param name="scalars">Tags and values; TensorBoard stores a scalar as a float, so each is rounded to one.</param>
    public static byte[] Scalars(double wallTime, long step, IEnumerable<(string Tag, double Value)> scalars)
    {
        var summary = new Protobuf();
        foreach (var (tag, value) in scalars)
        {
            var v = new Protobuf();
            v.Text(1, tag);
            v.Float(2, (float)value);
            summary.Message(1, v);
        }
        var e = new Protobuf();
        e.Double(1, wallTime);
        e.Varint(2, (ulong)step);
        e.Message(5, summary);
        return e.ToArray();
    }

    /// <summary>A file of <paramref name="events"/>, each framed as a TFRecord.</summary>
    public static byte[] File(IEnumerable<byte[]> events)
    {
        using var file = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        foreach (var data in events)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)data.Length);
            file.Write(length);
            WriteUInt32(file, MaskedCrc(length));
            file.Write(data);
            WriteUInt32(file, MaskedCrc(data));
        }
        return file.ToArray();
    }

    /// <summary>The CRC a TFRecord stores: CRC-32C rotated right by 15 bits plus a constant, because a CRC of data
    /// that holds CRCs is weak (tensorflow/core/lib/hash/crc32c.h, Mask).</summary>
    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        var crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), a byte at a time from a table; .NET's
    /// System.IO.Hashing has CRC-32 of the other polynomial only.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        Enumerable.Range(0, 8).Aggregate((uint)n, (c, _) => (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1)).ToArray();

    private static void WriteUInt32(Stream stream, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        stream.Write(bytes);
    }

    /// <summary>The few protocol-buffer wire types these messages use (protobuf.dev/programming-guides/encoding):
    /// a field's key is (number &lt;&lt; 3 | wire type) as a varint; 1 is 64-bit, 5 is 32-bit, 0 a varint, 2 a
    /// length-prefixed string or message.</summary>
    private sealed class Protobuf
    {
        private readonly MemoryStream bytes = new();

        public void Double(int field, double value)
        {
            Key(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, value);
            bytes.Write(b);
        }

        public void Float(int field, float value)
        {
            Key(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            bytes.Write(b);
        }

        public void Varint(int field, ulong value)
        {
            Key(field, 0);
            Varint(value);
        }

        public void Text(int field, string text) => Bytes(field, Encoding.UTF8.GetBytes(text));

        public void Message(int field, Protobuf message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => bytes.ToArray();

        private void Bytes(int field, byte[] data)
        {
            Key(field, 2);
            Varint((ulong)data.Length);
            bytes.Write(data);
        }

        private void Key(int field, int wireType) => Varint((ulong)(field << 3 | wireType));

        private void Varint(ulong value)
        {
            for (; value >= 0x80; value >>= 7) bytes.WriteByte((byte)(value | 0x80));
            bytes.WriteByte((byte)value);
        }
    }
}
