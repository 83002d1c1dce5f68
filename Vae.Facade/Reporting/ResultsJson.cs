using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vae.Facade.Reporting;

/// <summary>The results files: the run's <c>results.json</c> and each experiment's own copy of its entry.</summary>
internal static class ResultsJson
{
    /// <summary>camelCase names, indented, model kinds as in the definitions ("vae", "ae"); a diverged loss
    /// (NaN or infinite) is written as the string "NaN" or "Infinity" rather than failing the whole report.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The whole run: <c>{ run, startedUtc, quick, experiments: [...] }</c>.</summary>
    public static string Serialize(RunResult run) => JsonSerializer.Serialize(run, Options);

    /// <summary>One experiment, the same object as its entry in the run's file.</summary>
    public static string Serialize(ExperimentResult experiment) => JsonSerializer.Serialize(experiment, Options);
}
