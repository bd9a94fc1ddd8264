using System.CommandLine;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// The verbs of the inductive-bias studies (shift-study, permutation-study, sample-efficiency): the study options plus
/// --dataset fmnist|cifar10; the study definition is built from the dataset (and the verb's own options) when the command runs.
/// </summary>
internal static class InductiveBiasStudyCommand
{
    public static Command Create(string name, string description, EngineEnvironment engine,
        Func<ParseResult, string, StudySettings, StudyDefinition> define, params Option[] ownOptions)
    {
        var command = new Command(name, description);
        var options = new StudyOptions(command, engine, define(null!, DatasetCatalog.FashionMnistName, new StudySettings()));
        var dataset = new Option<string>("--dataset")
        {
            Description = "fmnist (Fashion-MNIST: fmnist-mlp vs fmnist-cnn) or cifar10 (CIFAR-10: cifar-dense vs cifar-medium, the CNN (16, 32)); the run folder is OUT/<verb>[-cifar10]-<timestamp>/",
            DefaultValueFactory = _ => "fmnist",
        };
        dataset.AcceptOnlyFromAmong([.. EdaRunner.Datasets.Keys]);
        command.Add(dataset);
        foreach (var option in ownOptions) command.Add(option);
        command.SetAction(result => StudyCommand.Guarded(result, () =>
        {
            var settings = options.Read(result).Validate();
            var study = define(result, EdaRunner.Datasets[result.GetValue(dataset) ?? "fmnist"], settings);
            return StudyCommand.RunStudy(study, settings, result, data: null, allowDownload: !result.GetValue(options.NoDownload)).ExitCode;
        }));
        return command;
    }
}
