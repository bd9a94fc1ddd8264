using System.Diagnostics;
using NativeConv.Experiments.Reports;
using NativeConv.Tests.Data;
using NativeConv.Tests.Studies;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.EndToEnd;

/// <summary>
/// deploy/slurm against a real Slurm (deploy/slurm/start-local-cluster.sh): a 3-shard job array of a --limit study plus its
/// dependent merge job; the merged results.json equals an unsharded run's. Where sbatch or a cluster is not there the test
/// returns early and says why in its output (this project's xunit 2 has no dynamic skip).
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the reference run sets Engine.Threads
public sealed class SlurmTests(ITestOutputHelper log) : StudyRunsRoot("nativeconv-slurm-")
{
    [Fact]
    public void A_three_shard_job_array_and_its_merge_job_equal_the_unsharded_run()
    {
        if (Unavailable() is { } reason)
            Assert.Skip($"{reason}. Start a local cluster with deploy/slurm/start-local-cluster.sh (needs root and slurm-wlm + munge; .ci/run does it).");
        string repository = RepositoryRoot();
        string[] study = ["--data-dir", RealData.Locator.Root, "--models", "fmnist-mlp", "--seeds", "3", "--limit", "1500", "--epochs", "1"];

        // The reference, unsharded and in-process, with the thread count the shards get (--cpus-per-task=1).
        var (code, output, error) = Cli.Run(["fmnist", .. study, "--out", Root, "--threads", "1", "--no-download", "--run-id", "whole"]);
        Assert.True(code == 0, error + output);
        var expected = ResultsJson.Read(Path.Combine(Root, "fmnist-whole", StudyArtifacts.ResultsFileName));

        string dll = Path.Combine(AppContext.BaseDirectory, "NativeConv.Experiments.dll");
        var submit = Start(Path.Combine(repository, "deploy", "slurm", "submit.sh"), ["3", "fmnist", .. study], new()
        {
            ["OUT"] = Root,
            ["NATIVECONV"] = $"dotnet {dll}",
            ["SBATCH_ARGS"] = $"--cpus-per-task=1 --mem=1G --chdir={Root}",
        });
        log.WriteLine(submit.Output);
        Assert.True(submit.ExitCode == 0, submit.Output);
        // "array job 12 (3 shards), merge job 13, run folder <out>/fmnist-12"
        string[] words = submit.Output.Trim().Split(' ');
        string arrayJob = words[2], mergeJob = words[7].TrimEnd(','), folder = words[^1];

        var clock = Stopwatch.StartNew();
        // Our jobs still queued or running (squeue -j fails once a job has left the queue, so list all and filter).
        bool Pending() => Start("squeue", ["-h", "-o", "%i"], []).Output.Split('\n')
            .Any(id => id.Trim() == mergeJob || id.Trim() == arrayJob || id.StartsWith(arrayJob + "_", StringComparison.Ordinal));
        while (Pending())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(5), "the jobs did not finish in 5 minutes:\n" + Start("squeue", [], []).Output + Logs());
            Thread.Sleep(500);
        }
        log.WriteLine(Logs());
        string results = Path.Combine(folder, StudyArtifacts.ResultsFileName);
        Assert.True(File.Exists(results), "no results.json:\n" + Logs());
        string mergeLog = Path.Combine(Root, $"slurm-{mergeJob}-merge.out");
        Assert.True(File.Exists(mergeLog), $"no {mergeLog}: " + string.Join(", ", Directory.GetFiles(Root)) + "\n" + Start("squeue", [], []).Output);
        Assert.Contains("Run folder:", File.ReadAllText(mergeLog)); // the merge job ran
        ShardTests.AssertSameNumbers(expected, ResultsJson.Read(results));
        // Three parts, one per shard, each named.
        Assert.Equal(["0/3", "1/3", "2/3"], ResultsJson.Read(results).Parts!.Select(p => p.Shard!).Order());
    }

    private string Logs() => string.Join("\n", Directory.GetFiles(Root, "slurm-*.out").Order().Select(f => $"--- {Path.GetFileName(f)}\n{File.ReadAllText(f)}"));

    /// <summary>Why Slurm cannot be used here, or null.</summary>
    private static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "Slurm runs on Linux only";
        string? sbatch = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "sbatch")).FirstOrDefault(File.Exists);
        if (sbatch is null) return "sbatch is not on PATH";
        try
        {
            var nodes = Start("sinfo", ["-h", "-o", "%T"], []);
            if (nodes.ExitCode != 0) return $"sinfo failed (no cluster running?): {nodes.Output.Trim()}";
            if (!nodes.Output.Split('\n').Any(s => s.Trim() is "idle" or "mixed" or "allocated")) return $"no usable Slurm node (sinfo: {nodes.Output.Trim()})";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"sinfo could not run: {e.Message}";
        }
        return null;
    }

    private static (int ExitCode, string Output) Start(string file, string[] args, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "NativeConv.sln"))) return directory.FullName;
        throw new InvalidOperationException("NativeConv.sln not found above " + AppContext.BaseDirectory);
    }
}
