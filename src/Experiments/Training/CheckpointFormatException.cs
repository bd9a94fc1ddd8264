namespace NativeConv.Experiments.Training;

/// <summary>
/// A checkpoint (safetensors) file that cannot be read: truncated, a bad header length, invalid JSON, an unsupported dtype,
/// a shape that does not match its byte span, offsets out of range or overlapping, or contents that do not fit the model.
/// The message names the file and what is wrong with it.
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    public CheckpointFormatException(string filePath, string problem, Exception? inner = null)
        : base($"Checkpoint '{filePath}': {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The checkpoint file (or the label given for an in-memory buffer).</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
