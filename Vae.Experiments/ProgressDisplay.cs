using Spectre.Console;
using Vae.Facade;
using Vae.Reporting;

namespace Vae.Experiments;

/// <summary>Shows a run's progress: a live display per model (epoch, batches, current losses, time
/// left) on a terminal, one line per epoch when the output is redirected.</summary>
internal static class ProgressDisplay
{
    public static async Task<T> RunAsync<T>(Func<IProgress<RunProgress>, Task<T>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return await work(new Reporter(Lines));
        return await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var tasks = new Dictionary<(string, string, int), ProgressTask>();
                return await work(new Reporter(p =>
                {
                    var key = (p.Experiment, p.Model, p.Repeat);
                    if (!tasks.TryGetValue(key, out var task))
                        tasks[key] = task = context.AddTask(Describe(p), maxValue: 1);
                    task.Description = Describe(p);
                    if (p.Finished)
                    {
                        task.Value = task.MaxValue;
                        task.StopTask();
                    }
                    else if (p.Batches > 0)
                    {
                        // Progress through the maximum epochs; early stopping finishes the bar.
                        task.MaxValue = (double)p.MaxEpochs * p.Batches;
                        task.Value = (double)(p.Epoch - 1) * p.Batches + p.Batch;
                    }
                }));
            });
    }

    private static string Describe(RunProgress p)
    {
        var name = $"[bold]{p.Experiment}/{p.Model}[/] repeat {p.Repeat + 1} ({p.ModelIndex + 1}/{p.ModelCount})";
        var state = p.Diverged ? $"[red]diverged in epoch {p.Epoch}[/]" : p.Finished ? $"done, best epoch {p.LastEpoch?.Epoch}" : $"epoch {p.Epoch}/{p.MaxEpochs}";
        var losses = p.LastEpoch is { } e && !p.Diverged ? $" · val {e.ValLoss:F1} (KL {e.ValKl:F1})" : "";
        return $"{name} {state}{losses}";
    }

    private static void Lines(RunProgress p)
    {
        if (p.Diverged)
            Console.WriteLine($"{p.Experiment}/{p.Model} repeat {p.Repeat + 1}: diverged in epoch {p.Epoch} (a NaN or infinite loss); not measured");
        else if (p.Finished)
            Console.WriteLine($"{p.Experiment}/{p.Model} repeat {p.Repeat + 1}: done, best epoch {p.LastEpoch?.Epoch}, validation loss {p.LastEpoch?.ValLoss:F2}");
        else if (p.Batches == 0 && p.LastEpoch is { } e)
            Console.WriteLine($"{p.Experiment}/{p.Model} repeat {p.Repeat + 1} ({p.ModelIndex + 1}/{p.ModelCount}) epoch {e.Epoch}/{p.MaxEpochs}: train {e.TrainLoss:F2} (KL {e.TrainKl:F2}), validation {e.ValLoss:F2} (KL {e.ValKl:F2}), {e.Seconds:F1} s");
    }

    /// <summary>Calls back synchronously on the training thread (Progress&lt;T&gt; would queue thousands of batch
    /// reports); the run makes its calls one at a time.</summary>
    private sealed class Reporter(Action<RunProgress> report) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => report(value);
    }
}
