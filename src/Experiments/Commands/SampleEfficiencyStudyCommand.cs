using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`sample-efficiency [--dataset fmnist|cifar10] [study options]`: test accuracy against 1k–all training images, dense vs CNN.</summary>
public static class SampleEfficiencyStudyCommand
{
    public static Command Create(EngineEnvironment engine) => InductiveBiasStudyCommand.Create(SampleEfficiencyStudy.StudyName,
        "Sample-efficiency study: test accuracy against training-set size (1k, 2k, 5k, 10k, 30k, all; stratified, nested), dense vs CNN.",
        engine, (_, dataset, settings) => SampleEfficiencyStudy.Define(dataset, settings.Limit));
}
