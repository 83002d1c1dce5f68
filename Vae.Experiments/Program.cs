using System.CommandLine;
using Vae.Experiments;
using Vae.Facade;

// The composition root: one file per command; each parses, calls the façade and prints. Errors end here: bad
// input is one line and exit code 2, an interruption exit code 130 (with the command that resumes the run),
// anything else a bug (exit code 1, with its stack trace).
var commands = new[] { RunCommand.Create(), ResumeCommand.Create(), MergeCommand.Create(), ClusterCommands.Slurm(), ClusterCommands.Kubernetes(), ListCommand.Create(), BenchCommand.Create(), SampleCommand.Create(), ReconstructCommand.Create() };
var root = new RootCommand("Train, compare and explain VAEs and autoencoders on Fashion-MNIST.");
foreach (var command in commands) root.Subcommands.Add(command);
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Bad options: one line, exit code 2 (System.CommandLine's default would print help and return 1).
    var names = string.Join(", ", commands.Select(c => c.Name));
    var message = args.Length == 0 ? $"no command given (commands: {names})"
        : !args[0].StartsWith('-') && commands.All(c => c.Name != args[0]) ? $"unknown command '{args[0]}' (commands: {names})"
        : parsed.Errors[0].Message;
    Console.Error.WriteLine($"error: {OneLine.Of(message)} (see --help)");
    return ExitCodes.BadInput;
}

using var interrupt = new Interrupt();
try
{
    // The run stops itself on Ctrl-C (Interrupt); System.CommandLine's own handling would end the process two
    // seconds later, under the engine's threads (a segmentation fault was seen while a run measured).
    return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }, interrupt.Token);
}
catch (Vae.Core.InvalidInputException e)
{
    Console.Error.WriteLine($"error: {OneLine.Of(e.Message)}");
    return ExitCodes.BadInput;
}
catch (RunInterruptedException e) when (interrupt.Token.IsCancellationRequested && e.Shard)
{
    Console.Error.WriteLine($"interrupted: this shard's finished jobs and each training's last epoch are saved in {OneLine.Of(e.Folder)}; continue with: {OneLine.Of(Shell.ThisCommand())}");
    return ExitCodes.Cancelled;
}
catch (RunInterruptedException e) when (interrupt.Token.IsCancellationRequested)
{
    Console.Error.WriteLine($"interrupted: finished jobs and each training's last epoch are saved in {OneLine.Of(e.Folder)}; continue with: {OneLine.Of(ResumeCommand.For(e.Folder))}");
    return ExitCodes.Cancelled;
}
catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled: nothing was written");
    return ExitCodes.Cancelled;
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: unexpected {e.GetType().Name}, a bug (please report it with what follows): {OneLine.Of(e.Message)}");
    Console.Error.WriteLine(e);
    return ExitCodes.Bug;
}
