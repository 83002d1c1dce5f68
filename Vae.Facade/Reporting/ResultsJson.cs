using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Vae.Facade.Reporting;

/// <summary>The results files: the run's <c>results.json</c> and each experiment's own copy of its entry.</summary>
internal static class ResultsJson
{
    /// <summary>camelCase names, indented, model kinds as "vae" and "autoencoder"; a diverged loss (NaN or
    /// infinite) is written as the string "NaN" or "Infinity" rather than failing the whole report.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Converters given here take precedence over the [JsonConverter] attribute on ModelKind.
        Converters = { new JsonStringEnumConverter<ModelKind>(JsonNamingPolicy.CamelCase) },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { IgnoredIsNotRequired } },
    };

    /// <summary>System.Text.Json refuses a type whose property is both <c>required</c> and <c>[JsonIgnore]</c>d, as
    /// <see cref="ModelResult.Samples"/> is (required in C#, never written to JSON); such a property is not required
    /// of JSON, which never holds it.</summary>
    private static void IgnoredIsNotRequired(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Kind != JsonTypeInfoKind.Object) return;
        foreach (var property in typeInfo.Properties)
            if (property.IsRequired && property.AttributeProvider?.IsDefined(typeof(JsonIgnoreAttribute), true) == true)
                property.IsRequired = false;
    }

    /// <summary>The whole run: <c>{ run, startedUtc, quick, experiments: [...] }</c>.</summary>
    public static string Serialize(RunResult run) => JsonSerializer.Serialize(run, Options);

    /// <summary>One experiment, the same object as its entry in the run's file.</summary>
    public static string Serialize(ExperimentResult experiment) => JsonSerializer.Serialize(experiment, Options);
}
