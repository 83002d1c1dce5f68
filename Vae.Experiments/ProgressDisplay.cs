using Spectre.Console;
using Vae.Facade;
using Vae.Reporting;

namespace Vae.Experiments;

/// <summary>Shows a run's progress: a live display per model (epoch, batches, current losses, time
/// left) on a terminal, one line per epoch when the output is redirected.</summary>
internal static class ProgressDisplay
{
    public static async Task<T> RunAsync<T>(Func<IProgress<RunEvent>, Task<T>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return await work(new Reporter(Line));
        return await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                // The run reports on one thread, one event at a time: no lock.
                var bars = new Dictionary<(string, string, int), Bar>();
                return await work(new Reporter(e =>
                {
                    var key = (e.Experiment, e.Model, e.Repeat);
                    if (!bars.TryGetValue(key, out var bar))
                        bars[key] = bar = new Bar(context.AddTask($"[bold]{e.Experiment}/{e.Model}[/]", maxValue: 1));
                    bar.Show(e);
                }));
            });
    }

    private static void Line(RunEvent e)
    {
        var name = $"{e.Experiment}/{e.Model} repeat {e.Repeat + 1}";
        switch (e)
        {
            case RunEvent.EpochDone { Epoch: var r } d:
                Console.WriteLine($"{name} ({e.ModelIndex + 1}/{e.ModelCount}) epoch {r.Epoch}/{d.MaxEpochs}: train {r.TrainLoss:F2} (KL {r.TrainKl:F2}), validation {r.ValLoss:F2} (KL {r.ValKl:F2}), {r.Seconds:F1} s");
                break;
            case RunEvent.Diverged d:
                Console.WriteLine($"{name}: diverged in epoch {d.Epoch.Epoch} (a NaN or infinite loss); not measured");
                break;
            case RunEvent.Finished f:
                Console.WriteLine($"{name}: done, best epoch {f.Best.Epoch}, validation loss {f.Best.ValLoss:F2}");
                break;
        }
    }

    /// <summary>One model's line of the live display: its bar through the maximum epochs (early stopping
    /// finishes it), and what the events so far say.</summary>
    private sealed class Bar(ProgressTask task)
    {
        private int _epoch, _maxEpochs;
        private EpochReport? _last;
        private string _state = "";

        public void Show(RunEvent e)
        {
            switch (e)
            {
                case RunEvent.Started s:
                    (_epoch, _maxEpochs) = (1, s.MaxEpochs);
                    task.MaxValue = (double)s.MaxEpochs * s.Batches;
                    break;
                case RunEvent.BatchDone b:
                    _epoch = b.Epoch;
                    task.Value = (double)(b.Epoch - 1) * b.Batches + b.Batch;
                    break;
                case RunEvent.EpochDone d:
                    _last = d.Epoch;
                    break;
                case RunEvent.Diverged d:
                    _state = $"[red]diverged in epoch {d.Epoch.Epoch}[/]";
                    Stop();
                    break;
                case RunEvent.Finished f:
                    (_last, _state) = (f.Best, $"done, best epoch {f.Best.Epoch}");
                    Stop();
                    break;
            }
            var name = $"[bold]{e.Experiment}/{e.Model}[/] repeat {e.Repeat + 1} ({e.ModelIndex + 1}/{e.ModelCount})";
            var state = _state != "" ? _state : $"epoch {_epoch}/{_maxEpochs}";
            var losses = _last is { } l && e is not RunEvent.Diverged ? $" · val {l.ValLoss:F1} (KL {l.ValKl:F1})" : "";
            task.Description = $"{name} {state}{losses}";
        }

        private void Stop()
        {
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }

    /// <summary>Calls back synchronously on the run's event thread (Progress&lt;T&gt; would queue thousands of batch
    /// reports on the thread pool); the run makes its calls one at a time.</summary>
    private sealed class Reporter(Action<RunEvent> report) : IProgress<RunEvent>
    {
        public void Report(RunEvent value) => report(value);
    }
}
