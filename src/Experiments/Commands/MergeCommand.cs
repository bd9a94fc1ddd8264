using System.CommandLine;
using NativeConv.Experiments.Studies;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `merge &lt;run folder&gt;`: writes results.json, report.md and the plots of a sharded study run from its units' result.json
/// files — the same files, with the same numbers, as one unsharded run of those seeds writes. The last shard to finish does
/// this by itself; the verb is for a separate merge job (Slurm --dependency=afterok, a Kubernetes Job after the shards).
/// </summary>
public static class MergeCommand
{
    public static Command Create(EngineEnvironment engine)
    {
        var folder = new Argument<string>("folder") { Description = "The run folder the shards share (OUT/<study>-<run id>/)" };
        var command = new Command("merge", "Write results.json, report.md and plots of a sharded study run once every unit has finished.") { folder };
        command.SetAction(result => StudyCommand.Guarded(result, () =>
        {
            var outcome = StudyRunner.Merge(result.GetValue(folder)!, CommandIo.Out(result), CommandIo.Console(result), engine);
            return outcome.ExitCode;
        }));
        return command;
    }
}
