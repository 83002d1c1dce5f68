using System.Runtime.InteropServices;

namespace Vae.Experiments;

/// <summary>Ctrl-C (SIGINT) and SIGTERM: the first asks the run to stop (training checks between batches,
/// measurement between its steps), keeping what it finished and marking its folder interrupted; a second Ctrl-C
/// ends the process at once, as the signal's default does (the run folder then keeps each training's last
/// finished epoch, as after kill -9).</summary>
internal sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration[] registrations;

    public Interrupt() => registrations =
    [
        PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
    ];

    /// <summary>Cancelled at the first signal.</summary>
    public CancellationToken Token => source.Token;

    private void Handle(PosixSignalContext context)
    {
        if (source.IsCancellationRequested) return; // the default: the process ends now
        context.Cancel = true;
        Console.Error.WriteLine("stopping: ending the current batch or measurement step; finished jobs are kept (Ctrl-C again to end at once)");
        source.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        source.Dispose();
    }
}
