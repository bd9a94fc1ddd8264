using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// The machine a run was made on, for results.json: numbers from different machines are not comparable. Simd is the
/// vector path the CPU kernels took (<see cref="SimdPath"/>: "AVX-512", "AVX2", "Vector128 (NEON)", ...; it follows
/// DOTNET_EnableAVX512 and the like), CpuCaches the cache sizes their blocking was sized from (null in older files).
/// </summary>
public sealed record MachineInfo(
    string CpuModel,
    int LogicalCores,
    string OperatingSystem,
    string Architecture,
    string DotNetVersion,
    string Simd,
    string? CpuCaches = null)
{
    /// <summary>Reads the CPU model from /proc/cpuinfo (Linux; "unknown" elsewhere) and the rest from the runtime.</summary>
    public static MachineInfo Collect() => new(
        ReadCpuModel(),
        Environment.ProcessorCount,
        RuntimeInformation.OSDescription,
        RuntimeInformation.ProcessArchitecture.ToString(),
        RuntimeInformation.FrameworkDescription,
        SimdPath.Current,
        NativeConv.Tensors.Backends.Cpu.CpuCaches.Current.Describe());

    private static string ReadCpuModel()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return "unknown";
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                // x86: "model name : AMD EPYC ..."; some ARM kernels only give "Hardware" or "CPU part".
                if (line.StartsWith("model name", StringComparison.Ordinal) || line.StartsWith("Hardware", StringComparison.Ordinal))
                {
                    int colon = line.IndexOf(':');
                    if (colon >= 0) return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }
}

/// <summary>The source revision a run was built from, via `git rev-parse HEAD` when git and a repository are at hand.</summary>
public static class GitInfo
{
    /// <summary>
    /// The commit hash of the repository containing <paramref name="directory"/> (default: the current one); outside a
    /// repository, the commit this program was built from (stamped into the assembly at build time); else "unknown".
    /// </summary>
    public static string Commit(string? directory = null)
    {
        string? output = RunGit("rev-parse HEAD", directory);
        return output is { Length: 40 } ? output : BuiltFromCommit() ?? "unknown";
    }

    /// <summary>The commit stamped at build time ("version+sha" in the informational version), or null.</summary>
    public static string? BuiltFromCommit()
    {
        string? version = typeof(GitInfo).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        int plus = version?.IndexOf('+') ?? -1;
        string? sha = plus >= 0 ? version![(plus + 1)..] : null;
        return sha is { Length: 40 } ? sha : null;
    }

    /// <summary>True when tracked files differ from the commit; null when git is not available.</summary>
    public static bool? IsDirty(string? directory = null)
    {
        string? output = RunGit("status --porcelain --untracked-files=no", directory);
        return output is null ? null : output.Length > 0;
    }

    private static string? RunGit(string arguments, string? directory)
    {
        try
        {
            var start = new ProcessStartInfo("git", arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = directory ?? Environment.CurrentDirectory,
            };
            using var process = Process.Start(start);
            if (process is null) return null;
            var stdout = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(5000))
            {
                try { process.Kill(); } catch (InvalidOperationException) { }
                return null;
            }
            return process.ExitCode == 0 ? stdout.Result.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; } // git not installed
        catch (InvalidOperationException) { return null; }
        catch (IOException) { return null; }
    }
}
