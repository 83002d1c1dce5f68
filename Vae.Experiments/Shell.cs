namespace Vae.Experiments;

/// <summary>Commands of this program as a POSIX shell reads them: to print (how to continue a run) and to write into scripts.</summary>
internal static class Shell
{
    /// <summary>The words that start this program as this process was started: the program and, under the <c>dotnet</c> host,
    /// its assembly (full paths).</summary>
    public static IReadOnlyList<string> Program()
    {
        var program = Environment.ProcessPath ?? "Vae.Experiments";
        return Path.GetFileNameWithoutExtension(program) == "dotnet"
            ? ["dotnet", Path.GetFullPath(Environment.GetCommandLineArgs()[0])]
            : [program];
    }

    /// <summary>This program with <paramref name="arguments"/>, each word quoted where needed.</summary>
    public static string Command(IEnumerable<string> arguments) => Join(Program().Concat(arguments));

    /// <summary>This process's command line as it was given (to run it again).</summary>
    public static string ThisCommand() => Command(Environment.GetCommandLineArgs().Skip(1));

    /// <summary>Words joined by spaces, each quoted for a POSIX shell where needed.</summary>
    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(Quote));

    /// <summary><paramref name="word"/> as a POSIX shell reads it back: as it is when it holds only safe characters, else in single quotes.</summary>
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:,@%".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''") + "'";
}
