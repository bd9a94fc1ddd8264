using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`kernel-study [study options]`: Fashion-MNIST kernel-size study: fmnist-cnn (3×3) vs fmnist-cnn-k5 (5×5), everything else fixed.</summary>
public static class KernelStudyCommand
{
    public static Command Create(EngineEnvironment engine) => StudyCommand.Create(StudyDefinition.KernelStudy, "Fashion-MNIST kernel-size study: fmnist-cnn (3×3) vs fmnist-cnn-k5 (5×5), everything else fixed.", engine);
}
