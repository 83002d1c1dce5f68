using FacadeTour;

// dotnet run --project samples/FacadeTour -c Release [work-folder]
var folder = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "facade-tour");
Directory.CreateDirectory(folder);
var summary = await Tour.RunAsync(folder, Console.Out);
Console.WriteLine(summary);
