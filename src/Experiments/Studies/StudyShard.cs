using System.Globalization;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (0-based): of a study's units — every model × seed, in the study's
/// order (models outer, seeds inner) — it trains those whose position modulo <see cref="Count"/> is <see cref="Index"/>.
/// Each unit is seeded on its own, so which process trains it does not change its numbers.
/// </summary>
public sealed record StudyShard(int Index, int Count)
{
    /// <summary>Whether the unit at <paramref name="unitIndex"/> (position in study order) belongs to this shard.</summary>
    public bool Owns(int unitIndex) => unitIndex % Count == Index;

    public override string ToString() => $"{Index.ToString(CultureInfo.InvariantCulture)}/{Count.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// --shard as given: "K/N", or "auto" — K and N from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, else K from
    /// JOB_COMPLETION_INDEX and N from <paramref name="shards"/> (--shards). Throws <see cref="StudyShardException"/> (one line).
    /// </summary>
    public static StudyShard Parse(string text, int? shards, Commands.ClusterEnvironment cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        string value = text.Trim();
        if (string.Equals(value, "auto", StringComparison.OrdinalIgnoreCase))
        {
            if (cluster.SlurmArrayTaskId is int task)
            {
                int count = cluster.SlurmArrayTaskCount
                    ?? shards
                    ?? throw new StudyShardException($"--shard auto: {Commands.ClusterEnvironment.SlurmArrayTaskIdVariable} is set but {Commands.ClusterEnvironment.SlurmArrayTaskCountVariable} is not; give --shards N.");
                return Make(task, count, $"--shard auto ({Commands.ClusterEnvironment.SlurmArrayTaskIdVariable}={task}, count {count})");
            }
            if (cluster.JobCompletionIndex is int index)
            {
                int count = shards ?? throw new StudyShardException($"--shard auto: {Commands.ClusterEnvironment.JobCompletionIndexVariable}={index} gives this shard's index but not the count; give --shards N (the Job's completions).");
                return Make(index, count, $"--shard auto ({Commands.ClusterEnvironment.JobCompletionIndexVariable}={index}, --shards {count})");
            }
            throw new StudyShardException($"--shard auto: neither {Commands.ClusterEnvironment.SlurmArrayTaskIdVariable} (a Slurm job array) nor {Commands.ClusterEnvironment.JobCompletionIndexVariable} (a Kubernetes Indexed Job) is set; give --shard K/N.");
        }
        int slash = value.IndexOf('/');
        if (slash > 0 && int.TryParse(value.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int k)
                      && int.TryParse(value.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            if (shards is int given && given != n) throw new StudyShardException($"--shard {value} says {n} shards but --shards says {given}.");
            return Make(k, n, $"--shard {value}");
        }
        throw new StudyShardException($"--shard '{value.ReplaceLineEndings(" ")}' is not K/N (shard K of N, 0 ≤ K < N, e.g. 0/3) or auto.");
    }

    private static StudyShard Make(int index, int count, string source)
    {
        if (count < 1 || count > 10_000) throw new StudyShardException($"{source}: the shard count must be between 1 and 10000; got {count}.");
        if (index < 0 || index >= count) throw new StudyShardException($"{source}: the shard index must be between 0 and {count - 1}; got {index}.");
        return new StudyShard(index, count);
    }

    /// <summary>A run id becomes part of a folder name: letters, digits, '-', '_' and '.', not starting with '.'.</summary>
    public static void CheckRunId(string runId)
    {
        bool ok = runId.Length is > 0 and <= 100 && runId[0] != '.';
        foreach (char c in runId) ok &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
        if (!ok) throw new ArgumentException($"--run-id '{runId.ReplaceLineEndings(" ")}' may hold only letters, digits, '-', '_' and '.' (1 to 100 characters; it becomes a folder name).");
    }
}

/// <summary>A --shard that cannot be honoured: a usage error (exit 2), one line.</summary>
public sealed class StudyShardException(string message) : Exception(message);
