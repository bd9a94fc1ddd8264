using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>`shift-study [--dataset fmnist|cifar10] [--augment-shift P] [study options]`: accuracy under test-time translation by 0–6 pixels.</summary>
public static class ShiftStudyCommand
{
    public static Command Create(EngineEnvironment engine)
    {
        var augment = new Option<int>("--augment-shift")
        {
            Description = "Also train every model with random training shifts of up to P pixels (each image, each step, dx and dy uniform in [−P, P], zero fill), as MODEL+shiftP",
            DefaultValueFactory = _ => 0,
            HelpName = "P",
        };
        augment.Validators.Add(r =>
        {
            if (StudyOptions.ParsedOrNull<int>(r) is int p && p is < 0 or > 16) r.AddError($"--augment-shift must be between 0 and 16 pixels; got {p}.");
        });
        return InductiveBiasStudyCommand.Create(ShiftStudy.StudyName,
            "Shift study: train the dense model and the CNN on unshifted images, test on images shifted by 0–6 px in 8 directions and at random.",
            engine, (result, dataset, _) => ShiftStudy.Define(dataset, result?.GetValue(augment) ?? 0), augment);
    }
}
