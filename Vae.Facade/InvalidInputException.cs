namespace Vae.Facade;

/// <summary>Input the library cannot use: a corrupt or missing data file, an invalid experiment
/// definition or checkpoint, an impossible option. The message is one line naming the input and
/// the problem.</summary>
public sealed class InvalidInputException : Exception
{
    /// <summary>An exception with a one-line message.</summary>
    public InvalidInputException(string message) : base(message) { }

    /// <summary>An exception with a one-line message and its cause.</summary>
    public InvalidInputException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Runs <paramref name="action"/>, turning the core's input errors into <see cref="InvalidInputException"/>.</summary>
    internal static T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsInputError(e))
        {
            throw new InvalidInputException(e.Message, e);
        }
    }

    /// <summary>True for the core's errors about its input.</summary>
    internal static bool IsInputError(Exception e) => e is Core.InvalidInputException
        or Core.Idx.DataFileException
        or Core.Checkpoint.CheckpointException
        or Core.Experiments.DefinitionException
        or Core.RunFolder.RunFolderException
        or ArgumentException;
}
