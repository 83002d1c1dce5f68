using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vae.Reporting;

/// <summary>The results files: the run's <c>results.json</c> and each experiment's own copy of its entry.</summary>
internal static class ResultsJson
{
    /// <summary>camelCase names, indented, model kinds as in the definitions ("vae", "ae"); a number that is not
    /// finite (a diverged model's last loss) is written as null: JSON has no NaN, and a string would break readers
    /// that expect numbers.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new FiniteOrNull() },
    };

    /// <summary>Doubles as JSON numbers, null for NaN and ±∞ (read back as NaN).</summary>
    private sealed class FiniteOrNull : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }

    /// <summary>A model kind as results.json writes it: "vae", "ae".</summary>
    public static string Word(ModelKind kind) => JsonSerializer.Serialize(kind, Options).Trim('"');

    /// <summary>The whole run: <c>{ run, startedUtc, quick, experiments: [...] }</c>.</summary>
    public static string Serialize(RunResult run) => JsonSerializer.Serialize(run, Options);

    /// <summary>One experiment, the same object as its entry in the run's file.</summary>
    public static string Serialize(ExperimentResult experiment) => JsonSerializer.Serialize(experiment, Options);
}
