using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`filter-study [study options]`: CIFAR-10 filter-count study: cifar-small, -medium, -big, -extra-big and the cifar-dense baseline.</summary>
public static class FilterStudyCommand
{
    public static Command Create(EngineEnvironment engine) => StudyCommand.Create(StudyDefinition.FilterStudy, "CIFAR-10 filter-count study: cifar-small, -medium, -big, -extra-big and the cifar-dense baseline.", engine);
}
