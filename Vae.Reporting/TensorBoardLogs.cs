namespace Vae.Reporting;

/// <summary>The TensorBoard event files of a run: one per training (every repeat of every model, the diverged ones
/// included), with each epoch's losses as scalars at step = epoch. Written from the results, like the CSVs, so that
/// a resumed or merged run writes them too.</summary>
internal static class TensorBoardLogs
{
    /// <summary>The scalars of each epoch, by tag, in the order they are written.</summary>
    public static readonly IReadOnlyList<(string Tag, Func<EpochReport, double> Value)> Scalars =
    [
        ("train/reconstruction", e => e.TrainRecon),
        ("train/kl", e => e.TrainKl),
        ("validation/reconstruction", e => e.ValRecon),
        ("validation/kl", e => e.ValKl),
        ("validation/loss", e => e.ValLoss),
        ("seconds", e => e.Seconds),
    ];

    /// <summary>Every event file of <paramref name="run"/>: its path (<see cref="RunLayout.TensorBoardEvents"/>) and
    /// its bytes.</summary>
    public static IEnumerable<(string Path, byte[] Bytes)> Files(RunResult run) =>
        from experiment in run.Experiments
        let trainings = Training.Of(experiment)
        // Folders per repeat when the experiment trained a model more than once, by its count or by the repeats found.
        let repeats = trainings.Select(t => t.Repeat + 1).Append(experiment.Repeats).Max()
        from t in trainings
        select (RunLayout.TensorBoardEvents(experiment.Experiment, t.Model, t.Repeat, repeats), Events(experiment.StartedUtc, t.Epochs));

    /// <summary>The event file of one training. The wall time of an epoch's event is the experiment's start plus the
    /// seconds of the training's epochs up to it: the moments each epoch ended were not recorded (trainings run one
    /// after another or side by side), and a time taken from the results makes the file the same each time it is
    /// written, where "now" would not. A loss that was not finite (the epoch a model diverged) is written as it is,
    /// NaN or ±∞.</summary>
    public static byte[] Events(DateTime startedUtc, IReadOnlyList<EpochReport> epochs)
    {
        var start = (DateTime.SpecifyKind(startedUtc, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalSeconds;
        var events = new List<byte[]> { TensorBoardEvents.Version(start) };
        var elapsed = 0.0;
        foreach (var e in epochs.OrderBy(e => e.Epoch))
        {
            elapsed += e.Seconds;
            events.Add(TensorBoardEvents.Scalars(start + elapsed, e.Epoch, Scalars.Select(s => (s.Tag, s.Value(e)))));
        }
        return TensorBoardEvents.File(events);
    }
}
