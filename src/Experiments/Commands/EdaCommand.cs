using System.CommandLine;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`eda --dataset fmnist|cifar10 [--per-class N] [--data-dir] [--out]`: sizes, class balance, pixel statistics, sample grid.</summary>
public static class EdaCommand
{
    public static Command Create()
    {
        var command = new Command("eda", "Exploratory look at a dataset: sizes, class balance, pixel statistics before/after /255, a sample grid PNG.");
        var dataset = new Option<string>("--dataset") { Description = "fmnist or cifar10", Required = true };
        dataset.AcceptOnlyFromAmong([.. EdaRunner.Datasets.Keys]);
        var perClass = new Option<int>("--per-class") { Description = "Sample images per class in the grid", DefaultValueFactory = _ => 8 };
        perClass.Validators.Add(r =>
        {
            if (StudyOptions.ParsedOrNull<int>(r) is not int n) return;
            if (n is < 1 or > 64) r.AddError($"--per-class must be between 1 and 64; got {n}.");
        });
        var dataDir = new Option<string?>("--data-dir") { Description = $"Folder holding the datasets (default: ${DataLocator.EnvironmentVariable}, else ./data)" };
        var outRoot = new Option<string>("--out") { Description = "Runs root: results go to OUT/eda-<dataset>-<timestamp>/", DefaultValueFactory = _ => "runs" };
        command.Add(dataset);
        command.Add(perClass);
        command.Add(dataDir);
        command.Add(outRoot);
        var noDownload = new Option<bool>("--no-download") { Description = "Fail with a message saying where to put missing dataset files instead of downloading them" };
        command.Add(noDownload);
        command.SetAction(result => StudyCommand.Guarded(result, () =>
        {
            Run(result, result.GetValue(dataset)!, result.GetValue(perClass), result.GetValue(dataDir), result.GetValue(outRoot) ?? "runs", data: null, allowDownload: !result.GetValue(noDownload));
            return 0;
        }));
        return command;
    }

    internal static EdaRunner.Outcome Run(ParseResult result, string datasetOption, int perClass, string? dataDir, string outRoot, (Dataset Train, Dataset Test)? data, bool allowDownload = true)
    {
        var output = CommandIo.Out(result);
        var locator = DataLocator.Resolve(dataDir);
        output.WriteLine($"command:  eda\ndataset:  {EdaRunner.Datasets[datasetOption]}\ndata_dir: {locator.Root} (from {locator.Source})\nper_class: {perClass}\n");
        var (train, test) = data ?? StudyRunner.LoadData(EdaRunner.Datasets[datasetOption], dataDir, CommandIo.Console(result), allowDownload);
        return EdaRunner.Run(datasetOption, train, test, perClass, outRoot, $"{locator.Root} (from {locator.Source})", output);
    }
}
