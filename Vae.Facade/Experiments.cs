using Vae.Core;
using static Vae.Core.Experiments;
using static Vae.Core.RunPlan;
using static Vae.Core.Outcomes;
using static Vae.Core.Execution;

namespace Vae.Facade;

/// <summary>One model of an experiment definition.</summary>
/// <param name="Name">Unique within the experiment.</param>
/// <param name="Source">Where its architecture comes from, in words: e.g. "VAE 784-400-20", "AE with the architecture of task1's best VAE", "task1's best model, as trained there".</param>
public sealed record ModelDefinition(string Name, string Source);

/// <summary>A validated experiment: models trained under the same data and training settings.</summary>
/// <param name="Name">The experiment's name (its folder in a run).</param>
/// <param name="Description">What it is for.</param>
/// <param name="ValidationSize">Training images held out for validation.</param>
/// <param name="SplitSeed">Seed of the training/validation split.</param>
/// <param name="Training">Training settings.</param>
/// <param name="Models">Its models, in order.</param>
public sealed record ExperimentDefinition(
    string Name,
    string Description,
    int ValidationSize,
    long SplitSeed,
    TrainingSettings Training,
    IReadOnlyList<ModelDefinition> Models)
{
    /// <summary>The folder of IDX files the experiment trains on (an absolute path), or null for Fashion-MNIST, the default.</summary>
    public string? DataFolder { get; init; }

    /// <summary>The class names of a folder's data set, by label (as the definition names them); Fashion-MNIST's
    /// otherwise (<see cref="FashionMnistData.ClassNames"/>).</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = FashionMnistData.ClassNames;
}

/// <summary>What a run of a definition trains: the experiments in order, every file read and
/// validated. A study lists experiments; an experiment that takes another's best model or
/// architecture has that experiment run before it.</summary>
/// <param name="Name">The definition run.</param>
/// <param name="Description">Its description.</param>
/// <param name="Experiments">The experiments, in the order they run.</param>
public sealed record ExperimentPlan(string Name, string Description, IReadOnlyList<ExperimentDefinition> Experiments)
{
    internal IReadOnlyList<Core.Experiments.ExperimentDefinition> Core { get; init; } = [];

    /// <summary>Reads and validates a definition by name (a shipped one, e.g. "task1" or "seed-study")
    /// or by path to a JSON file, with every experiment it needs.</summary>
    /// <exception cref="Core.InvalidInputException">A file is missing or invalid: the message names the file, the JSON path and the rule broken.</exception>
    public static ExperimentPlan Load(string nameOrPath)
    {
        var (top, experiments) = plan(nameOrPath);
        return new ExperimentPlan(top.Name, top.Description, experiments.Select(ToFacade).ToArray()) { Core = experiments.ToArray() };
    }

    /// <summary>Reads the experiments a run recorded in its folder's <c>definition.json</c> (every experiment as it ran),
    /// validated as <see cref="Load"/> validates a definition.</summary>
    /// <exception cref="Core.InvalidInputException">The file is missing or invalid: the message names it, the JSON path and the rule broken.</exception>
    public static ExperimentPlan OfRun(string definitionFile)
    {
        var (top, experiments) = planOfRun(definitionFile);
        return new ExperimentPlan(top.Name, "", experiments.Select(ToFacade).ToArray()) { Core = experiments.ToArray() };
    }

    /// <summary>The shipped definitions (the repository's or the program's experiments/ folder), one
    /// line each: the name, what it is, and, if a file is invalid, why.</summary>
    public static IReadOnlyList<DefinitionSummary> Shipped() => shipped().Select(entry =>
    {
        var (file, result) = entry;
        var name = Path.GetFileNameWithoutExtension(file);
        if (result.IsError) return new DefinitionSummary(name, "", file, false, [], result.ErrorValue);
        var d = result.ResultValue;
        return d switch
        {
            Definition.Study s => new DefinitionSummary(d.Name, d.Description, file, true, s.experiments.ToArray(), null),
            Definition.Experiment e => new DefinitionSummary(d.Name, d.Description, file, false, e.Item.Models.Select(m => m.Name).ToArray(), null),
            _ => throw new InvalidOperationException("unknown definition"),
        };
    }).ToArray();

    /// <summary>Height and width of a data source's images (its training images').</summary>
    private static (int, int) ImageOf(DataSource source)
    {
        var (_, height, width) = DataSourceModule.trainingShape(source);
        return (height, width);
    }

    private static ExperimentDefinition ToFacade(Core.Experiments.ExperimentDefinition e) => new(
        e.Name,
        e.Description,
        e.Data.ValidationSize,
        e.Data.SplitSeed,
        new TrainingSettings(e.Training.MaxEpochs, e.Training.BatchSize, e.Training.LearningRate,
            e.Training.Patience is null ? null : e.Training.Patience.Value, e.Training.Seed),
        e.Models.Select(m => new ModelDefinition(m.Name, Describe(e, m.Source))).ToArray())
    {
        DataFolder = e.Data.Source is DataSource.IdxFolder f ? f.Item.Folder : null,
        ClassNames = e.Data.Source is DataSource.IdxFolder g ? g.Item.Classes.ToArray() : FashionMnistData.ClassNames,
    };

    private static string Describe(Core.Experiments.ExperimentDefinition e, ModelSource source) => source switch
    {
        ModelSource.Widths w => ArchitectureModule.ofDesign(ImageOf(e.Data.Source).Item1, ImageOf(e.Data.Source).Item2, w.Item).ToString(),
        ModelSource.ArchitectureOf a => $"{(a.kind.IsVae ? "VAE" : "AE")} with the architecture of {a.experiment}'s best VAE",
        ModelSource.BestOf b => $"{b.experiment}'s best model, as trained there",
        _ => source.ToString(),
    };
}

/// <summary>One shipped definition, for listing.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">What it is for.</param>
/// <param name="File">The JSON file.</param>
/// <param name="IsStudy">True for a study (a list of experiments).</param>
/// <param name="Parts">A study's experiments, or an experiment's models.</param>
/// <param name="Error">Why the file is invalid, or null.</param>
public sealed record DefinitionSummary(string Name, string Description, string File, bool IsStudy, IReadOnlyList<string> Parts, string? Error);
