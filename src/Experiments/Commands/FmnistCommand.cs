using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`fmnist [study options]`: Fashion-MNIST: dense MLP (fmnist-mlp) vs CNN (fmnist-cnn): accuracy, loss, gap, epochs, time, learning curves.</summary>
public static class FmnistCommand
{
    public static Command Create(EngineEnvironment engine) => StudyCommand.Create(StudyDefinition.Fmnist, "Fashion-MNIST: dense MLP (fmnist-mlp) vs CNN (fmnist-cnn): accuracy, loss, gap, epochs, time, learning curves.", engine);
}
