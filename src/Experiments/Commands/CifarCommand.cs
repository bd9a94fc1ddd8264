using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`cifar [study options]`: CIFAR-10: dense baseline (cifar-dense) vs CNN (cifar-big), with the parameter ratio.</summary>
public static class CifarCommand
{
    public static Command Create(EngineEnvironment engine) => StudyCommand.Create(StudyDefinition.Cifar, "CIFAR-10: dense baseline (cifar-dense) vs CNN (cifar-big), with the parameter ratio.", engine);
}
