#pragma warning disable CS1591
// Interim: writes results.json only, until the plots and reports land (branch report).
namespace Vae.Facade;
public static class Report
{
    public static Task WriteAsync(RunResult run, string runFolder, CancellationToken ct = default)
    {
        var o = new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase, WriteIndented = true };
        File.WriteAllText(Path.Combine(runFolder, RunLayout.Results), System.Text.Json.JsonSerializer.Serialize(run, o));
        return Task.CompletedTask;
    }
}
