using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`permutation-study [--dataset fmnist|cifar10] [study options]`: the dense model and the CNN with and without one fixed pixel permutation.</summary>
public static class PermutationStudyCommand
{
    public static Command Create(EngineEnvironment engine) => InductiveBiasStudyCommand.Create(PermutationStudy.StudyName,
        "Permutation study: one fixed seeded pixel permutation on train and test; the dense model and the CNN with and without it.",
        engine, (_, dataset, _) => PermutationStudy.Define(dataset));
}
