namespace Vae.Reporting;

/// <summary>Where a run's time went: the wall-clock seconds of its jobs by kind, summed over the lanes that ran them
/// (a run on two lanes spends up to twice its wall time in jobs). Each job is counted once: a model taken from
/// another experiment (<see cref="ModelResult.ReusedFrom"/>) was trained and measured there; a job whose time
/// was not recorded (results of an older version) is left out of its kind's count and sum.</summary>
/// <param name="Trainings">Trainings counted.</param>
/// <param name="TrainingSeconds">Their seconds, validation included (a resumed training's earlier epochs too).</param>
/// <param name="Measurements">Measuring jobs counted (test losses, probes, distances, pictures).</param>
/// <param name="MeasureSeconds">Their seconds.</param>
/// <param name="Estimates">IWAE estimates counted (VAEs only).</param>
/// <param name="LikelihoodSeconds">Their seconds.</param>
public sealed record JobTimes(
    int Trainings, double TrainingSeconds, int Measurements, double MeasureSeconds, int Estimates, double LikelihoodSeconds)
{
    /// <summary>The job times of <paramref name="run"/>'s models that were trained and measured (diverged models are not
    /// measured, and their trainings' times are not kept in results.json).</summary>
    public static JobTimes Of(RunResult run)
    {
        var repeats = run.Experiments.SelectMany(e => e.Models).Where(m => m.ReusedFrom is null).SelectMany(m => m.Repeats).ToList();
        static (int Count, double Sum) Recorded(IEnumerable<double> seconds)
        {
            var kept = seconds.Where(double.IsFinite).ToList();
            return (kept.Count, kept.Sum());
        }
        var training = Recorded(repeats.Select(r => r.TrainingSeconds));
        var measuring = Recorded(repeats.Select(r => r.MeasureSeconds));
        var likelihood = Recorded(repeats.Select(r => r.LikelihoodSeconds));
        return new(training.Count, training.Sum, measuring.Count, measuring.Sum, likelihood.Count, likelihood.Sum);
    }

    /// <summary>"27 trainings 19 min 14 s, 27 measurements 6 min 47 s, 24 IWAE estimates 5 min 44 s": the kinds that
    /// have a recorded job, or "" when none has.</summary>
    public string Describe()
    {
        static string Part(int count, string one, string many, double seconds) =>
            count == 0 ? "" : $"{count} {(count == 1 ? one : many)} {Numbers.Duration(seconds)}";
        return string.Join(", ", new[]
        {
            Part(Trainings, "training", "trainings", TrainingSeconds),
            Part(Measurements, "measurement", "measurements", MeasureSeconds),
            Part(Estimates, "IWAE estimate", "IWAE estimates", LikelihoodSeconds),
        }.Where(p => p.Length > 0));
    }
}
