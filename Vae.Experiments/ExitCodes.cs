namespace Vae.Experiments;

/// <summary>The runner's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>A bug: an unexpected exception, printed with its stack trace.</summary>
    public const int Bug = 1;

    /// <summary>Bad input: a missing or invalid definition, unreadable data, an unwritable output folder, an impossible option.</summary>
    public const int BadInput = 2;

    /// <summary>The run finished and wrote its folder, but every model diverged (a NaN or infinite loss).</summary>
    public const int AllDiverged = 3;

    /// <summary>Interrupted (Ctrl+C), as a shell reports SIGINT.</summary>
    public const int Cancelled = 130;
}
