using System.Globalization;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// What a batch system tells a study process about its job, read once at the command-line edge (like
/// <see cref="EngineEnvironment"/>), so the study verbs' --shard auto and --run-id defaults never read the environment:
///   SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT   a Slurm job array (sbatch --array)
///   JOB_COMPLETION_INDEX                                             a Kubernetes Indexed Job's pod index
///   JOB_NAME (else HOSTNAME "&lt;job&gt;-&lt;index&gt;-&lt;suffix&gt;")            that Kubernetes Job's name, the run id of its shards
/// A number that is not a number is a one-line error naming the variable (exit code 2).
/// </summary>
public sealed record ClusterEnvironment(string? SlurmArrayJobId, int? SlurmArrayTaskId, int? SlurmArrayTaskCount, int? JobCompletionIndex, string? KubernetesJobName)
{
    public const string SlurmArrayJobIdVariable = "SLURM_ARRAY_JOB_ID";
    public const string SlurmArrayTaskIdVariable = "SLURM_ARRAY_TASK_ID";
    public const string SlurmArrayTaskCountVariable = "SLURM_ARRAY_TASK_COUNT";
    public const string JobCompletionIndexVariable = "JOB_COMPLETION_INDEX";
    public const string JobNameVariable = "JOB_NAME";

    /// <summary>Outside any batch system.</summary>
    public static ClusterEnvironment None { get; } = new(null, null, null, null, null);

    public static ClusterEnvironment Read(Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        int? index = Number(lookup, JobCompletionIndexVariable);
        string? jobName = Blank(lookup(JobNameVariable)) ?? (index is int i ? JobFromHostname(Blank(lookup("HOSTNAME")), i) : null);
        return new ClusterEnvironment(Blank(lookup(SlurmArrayJobIdVariable)), Number(lookup, SlurmArrayTaskIdVariable),
            Number(lookup, SlurmArrayTaskCountVariable), index, jobName);
    }

    /// <summary>
    /// The id all shards of this job share: the Slurm array's job id, else the Kubernetes Job's name; null outside a job.
    /// </summary>
    public string? JobId => SlurmArrayJobId ?? (JobCompletionIndex is not null ? KubernetesJobName : null);

    /// <summary>An Indexed Job's pod is named "&lt;job&gt;-&lt;index&gt;-&lt;5 random&gt;" (its hostname): the job's name, or null.</summary>
    internal static string? JobFromHostname(string? hostname, int index)
    {
        if (hostname is null) return null;
        string marker = "-" + index.ToString(CultureInfo.InvariantCulture) + "-";
        int at = hostname.LastIndexOf(marker, StringComparison.Ordinal);
        return at > 0 && hostname.IndexOf('-', at + marker.Length) < 0 ? hostname[..at] : null;
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static int? Number(Func<string, string?> lookup, string variable)
    {
        string? text = Blank(lookup(variable));
        if (text is null) return null;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)) return value;
        throw new EngineEnvironmentException($"{variable}='{text.ReplaceLineEndings(" ")}' is not a non-negative whole number (the batch system sets it; unset it outside a job).");
    }
}
