namespace NativeConv.Experiments.Data;

/// <summary>
/// A data file that is not what it should be: wrong magic number, truncated, a count that does not match, a label out of
/// range, a corrupt gzip or tar stream, a digest mismatch. The message names the file, what was expected and what was found.
/// </summary>
public sealed class DataFormatException : Exception
{
    public DataFormatException(string fileName, string problem, Exception? inner = null)
        : base($"{fileName}: {problem}", inner)
    {
        FileName = fileName;
    }

    /// <summary>The file (path or name) the problem was found in.</summary>
    public string FileName { get; }
}

/// <summary>
/// A data file that is missing and could not be downloaded. The message says which files to put where, and how to point the
/// program at another folder (--data-dir or NATIVECONV_DATA).
/// </summary>
public sealed class DataUnavailableException : Exception
{
    public DataUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}
