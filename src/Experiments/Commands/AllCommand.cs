using System.CommandLine;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `all [study options]`: eda for both datasets, then fmnist, kernel-study, cifar and filter-study, then the inductive-bias
/// studies (shift-study and sample-efficiency on both datasets, permutation-study on Fashion-MNIST) in sequence, each in its
/// own run folder, loading each dataset once. With --resume (no value) every study continues its newest run of all its models
/// (runs made with --models are left alone) if it has one.
/// </summary>
public static class AllCommand
{
    public static Command Create(EngineEnvironment engine)
    {
        var command = new Command("all", "Every study in sequence: eda (both datasets), fmnist, kernel-study, cifar, filter-study, shift-study, permutation-study, sample-efficiency.");
        var options = new StudyOptions(command, engine);
        command.SetAction(result => StudyCommand.Guarded(result, () =>
        {
            var settings = options.Read(result).Validate();
            if (settings.Resume is { } resume && resume != StudyFolder.Latest)
                throw new StudyResumeException("all: give --resume without a folder; every study then continues its newest run under --out (or starts one).");
            var output = CommandIo.Out(result);
            var folders = new List<string>();
            var loaded = new Dictionary<string, (Dataset Train, Dataset Test)>();
            (Dataset Train, Dataset Test) Load(string dataset) =>
                loaded.TryGetValue(dataset, out var data) ? data : loaded[dataset] = StudyRunner.LoadData(dataset, settings.DataDir, CommandIo.Console(result), !result.GetValue(options.NoDownload));

            foreach (var (option, dataset) in EdaRunner.Datasets)
            {
                output.WriteLine($"==== eda --dataset {option} ====");
                folders.Add(EdaCommand.Run(result, option, 8, settings.DataDir, settings.Out, Load(dataset)).Folder);
                output.WriteLine();
            }
            foreach (var defined in StudyDefinition.All)
            {
                // The sample-efficiency study's sizes depend on --limit (sizes above the training images left are dropped).
                var study = defined.Name.StartsWith(SampleEfficiencyStudy.StudyName, StringComparison.Ordinal)
                    ? SampleEfficiencyStudy.Define(defined.Dataset, settings.Limit) : defined;
                output.WriteLine($"==== {study.Name} ====");
                // `all` runs every model of every study, so it continues only runs of the whole study, never a --models one.
                string? folder = settings.Resume is null ? null
                    : StudyFolder.FindLatest(study.Name, settings.Out, f => study.IsWholeStudy(f.SavedModels(study)));
                var studySettings = settings with { Resume = folder, Models = study.Models };
                var outcome = StudyCommand.RunStudy(study, studySettings, result, Load(study.Dataset));
                folders.Add(outcome.Folder);
                if (outcome.Interrupted) return outcome.ExitCode;
                output.WriteLine();
            }
            output.WriteLine("All run folders:");
            foreach (var folder in folders) output.WriteLine("  " + folder);
            return 0;
        }));
        return command;
    }
}
