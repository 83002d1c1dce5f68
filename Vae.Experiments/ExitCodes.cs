namespace Vae.Experiments;

/// <summary>The runner's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>Bad input: a missing or invalid definition, unreadable data, an unwritable output folder, an impossible option.</summary>
    public const int BadInput = 2;

    /// <summary>Interrupted (Ctrl+C), as a shell reports SIGINT.</summary>
    public const int Cancelled = 130;
}
