using NativeConv.Experiments.Commands;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Studies;

/// <summary>
/// Sharded studies: N processes each train their round-robin share of the units (model × seed) into one run folder, and the
/// merged results.json equals an unsharded run's bit for bit; --shard auto from a Slurm array or a Kubernetes Indexed Job;
/// a unit held by another process is never trained twice.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class ShardTests() : StudyRunsRoot("nativeconv-shards-")
{
    private string[] Mlp(params string[] extra) =>
        Study("fmnist", ["--models", "fmnist-mlp", "--seeds", "3", "--limit", "1500", "--epochs", "1", .. extra]);

    [Fact]
    public void Three_shards_and_merge_equal_the_unsharded_run_bit_for_bit()
    {
        var (code, output, error) = Cli.Run(Mlp("--run-id", "whole"));
        Assert.True(code == 0, error + output);
        string whole = Path.Combine(Root, "fmnist-whole");
        var expected = ResultsJson.Read(Path.Combine(whole, StudyArtifacts.ResultsFileName));
        Assert.Equal(3, expected.Models.Count);

        string sharded = Path.Combine(Root, "fmnist-job7");
        string results = Path.Combine(sharded, StudyArtifacts.ResultsFileName);
        for (int k = 0; k < 3; k++)
        {
            (code, output, error) = Cli.Run(Mlp("--shard", $"{k}/3", "--run-id", "job7"));
            Assert.True(code == 0, error + output);
            // Shard k trains only unit k (one model, seeds 42, 43, 44); the last one to finish writes the report.
            Assert.Equal(k + 1, Directory.GetFiles(sharded, StudyFolder.ResultFileName, SearchOption.AllDirectories).Length);
            Assert.Equal(k == 2, File.Exists(results));
        }
        AssertSameNumbers(expected, ResultsJson.Read(results));
        Assert.True(File.Exists(Path.Combine(sharded, "report.md")));

        // The merge verb writes the same from the units' files alone.
        File.Delete(results);
        File.Delete(Path.Combine(sharded, "report.md"));
        (code, output, error) = Cli.Run("merge", sharded);
        Assert.True(code == 0, error + output);
        AssertSameNumbers(expected, ResultsJson.Read(results));
        Assert.True(File.Exists(Path.Combine(sharded, "report.md")));
        Assert.True(File.Exists(Path.Combine(sharded, "validation-accuracy.svg")));
    }

    [Fact]
    public void Merge_of_an_unfinished_run_names_the_missing_units()
    {
        var (code, output, error) = Cli.Run(Mlp("--shard", "1/3", "--run-id", "part"));
        Assert.True(code == 0, error + output);
        Assert.Contains("fmnist-mlp-seed42", output); // not finished yet: shard 0's
        (code, output, error) = Cli.Run("merge", Path.Combine(Root, "fmnist-part"));
        Assert.Equal(1, code);
        Assert.Contains("no result yet for fmnist-mlp-seed42, fmnist-mlp-seed44", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void A_unit_another_process_is_training_is_not_trained_twice()
    {
        // Hold one unit's lock as a live process would (a shard given overlapping work, or a --resume of the folder).
        string unit = Path.Combine(Root, "fmnist-held", "models", "fmnist-mlp-seed43");
        Directory.CreateDirectory(unit);
        using (RunLock.Acquire(unit))
        {
            var (code, output, error) = Cli.Run(Mlp("--shard", "0/1", "--run-id", "held"));
            Assert.Equal(1, code);
            Assert.Contains("is in use by", error);
            Assert.Contains("fmnist-mlp-seed43", error);
            Assert.False(File.Exists(Path.Combine(unit, StudyFolder.ResultFileName)));
        }
        var (again, printed, errors) = Cli.Run(Mlp("--shard", "0/1", "--run-id", "held"));
        Assert.True(again == 0, errors + printed);
        Assert.Contains("fmnist-mlp-seed42: already finished", printed); // trained before the held unit stopped the shard
        Assert.True(File.Exists(Path.Combine(Root, "fmnist-held", StudyArtifacts.ResultsFileName)));
    }

    [Fact]
    public void Shards_of_one_run_must_share_its_settings()
    {
        var (code, output, error) = Cli.Run(Mlp("--shard", "0/3", "--run-id", "mixed"));
        Assert.True(code == 0, error + output);
        (code, output, error) = Cli.Run(Mlp("--shard", "1/3", "--run-id", "mixed", "--batch-size", "32"));
        Assert.Equal(1, code);
        Assert.Contains("batch_size 64 → 32", error);
    }

    [Theory]
    [InlineData(new[] { "SLURM_ARRAY_JOB_ID", "991", "SLURM_ARRAY_TASK_ID", "2", "SLURM_ARRAY_TASK_COUNT", "3" }, null, 2, 3, "991")]
    [InlineData(new[] { "JOB_COMPLETION_INDEX", "1", "HOSTNAME", "study-fmnist-1-x7k2p" }, 4, 1, 4, "study-fmnist")]
    [InlineData(new[] { "JOB_COMPLETION_INDEX", "0", "JOB_NAME", "nightly", "HOSTNAME", "other" }, 2, 0, 2, "nightly")]
    public void Shard_auto_reads_the_batch_system(string[] variables, int? shards, int index, int count, string runId)
    {
        var environment = new Dictionary<string, string?>();
        for (int i = 0; i < variables.Length; i += 2) environment[variables[i] + ""] = variables[i + 1];
        var cluster = ClusterEnvironment.Read(name => environment.GetValueOrDefault(name));
        Assert.Equal(new StudyShard(index, count), StudyShard.Parse("auto", shards, cluster));
        Assert.Equal(runId, cluster.JobId);
    }

    [Theory]
    [InlineData("auto", null, "neither SLURM_ARRAY_TASK_ID")]
    [InlineData("3/3", null, "between 0 and 2; got 3")]
    [InlineData("1-3", null, "is not K/N")]
    [InlineData("0/3", "--shards=4", "says 3 shards but --shards says 4")]
    public void A_bad_shard_is_a_one_line_usage_error(string shard, string? shards, string message)
    {
        string[] extra = shards is null ? ["--shard", shard, "--run-id", "x"] : ["--shard", shard, shards, "--run-id", "x"];
        var (code, _, error) = Cli.RunWithEnvironment(new Dictionary<string, string?>(), Mlp(extra));
        Assert.Equal(2, code);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(Root, "fmnist-x")));
    }

    [Fact]
    public void Environment_errors_and_a_shard_without_a_run_id()
    {
        var (code, _, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { ["SLURM_ARRAY_TASK_ID"] = "two" }, Mlp());
        Assert.Equal(2, code);
        Assert.Contains("SLURM_ARRAY_TASK_ID='two'", error);
        (code, _, error) = Cli.RunWithEnvironment(new Dictionary<string, string?>(), Mlp("--shard", "0/2"));
        Assert.Equal(1, code);
        Assert.Contains("--shard needs a run id", error);
    }

    /// <summary>Every number of every model entry (the wall-clock seconds aside, which no two runs share).</summary>
    internal static void AssertSameNumbers(StudyResults expected, StudyResults actual)
    {
        Assert.Equal(expected.Models.Select(m => m.Name), actual.Models.Select(m => m.Name));
        foreach (var (e, a) in expected.Models.Zip(actual.Models))
        {
            Assert.Equal(e.Parameters, a.Parameters);
            Assert.Equal(e.Test!.Loss, a.Test!.Loss);
            Assert.Equal(e.Test.Accuracy, a.Test.Accuracy);
            Assert.Equal(e.Test.Confusion.SelectMany(r => r), a.Test.Confusion.SelectMany(r => r));
            Assert.Equal(e.Training!.BestEpoch, a.Training!.BestEpoch);
            Assert.Equal(e.Training.BestValidationLoss, a.Training.BestValidationLoss);
            Assert.Equal(e.Training.History.Select(h => (h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationAccuracy)),
                         a.Training.History.Select(h => (h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationAccuracy)));
        }
    }
}
