using System.CommandLine;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>list</c>: the shipped definitions, one line each.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List the shipped experiment definitions.");
        command.SetAction(_ =>
        {
            var definitions = ExperimentPlan.Shipped();
            if (definitions.Count == 0)
            {
                Console.Error.WriteLine("error: no experiments folder found (looked beside the working folder and the program)");
                return ExitCodes.BadInput;
            }
            var width = definitions.Max(d => d.Name.Length);
            foreach (var d in definitions)
            {
                var line = d switch
                {
                    { Error: not null } => $"INVALID: {d.Error}",
                    { IsStudy: true } => $"study of {string.Join(", ", d.Parts)}: {d.Description}",
                    _ => $"{d.Parts.Count} model{(d.Parts.Count == 1 ? "" : "s")}: {d.Description}",
                };
                Console.WriteLine($"{d.Name.PadRight(width)}  {line}");
            }
            return definitions.Any(d => d.Error is not null) ? ExitCodes.BadInput : ExitCodes.Success;
        });
        return command;
    }
}
