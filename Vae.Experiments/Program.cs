using System.CommandLine;
using Vae.Experiments;

// The composition root: one file per command; each parses, calls the façade and prints.
var root = new RootCommand("Train, compare and explain VAEs and autoencoders on Fashion-MNIST.")
{
    RunCommand.Create(),
    ListCommand.Create(),
    BenchCommand.Create(),
};
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Bad options: one line, exit code 2 (System.CommandLine's default would print help and return 1).
    Console.Error.WriteLine($"error: {parsed.Errors[0].Message} (see --help)");
    return ExitCodes.BadInput;
}
return await parsed.InvokeAsync();
