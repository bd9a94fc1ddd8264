using System.Globalization;

namespace NativeConv.Tensors.Backends.Cpu;

/// <summary>
/// The data-cache sizes of one core as the machine reports them: the GEMM's K/N blocks and the convolution's image groups
/// are sized from these, so a CPU with a 512 KiB L2 (Zen 3) and one with 2 MiB (Emerald Rapids) each get blocks that fit.
/// Read once at start-up. Where the machine says nothing (no sysfs, an odd VM), the sizes are the fallback constants and
/// <see cref="Source"/> says so, so a run header never presents a guess as a reading.
/// </summary>
public sealed record CpuCaches(long L1DataBytes, long L2Bytes, long L3Bytes, string Source)
{
    /// <summary>Fallbacks: 32 KiB L1d, 1 MiB L2, 32 MiB L3 (common to the x64 server parts of the last five years).</summary>
    public static CpuCaches Fallback { get; } = new(32 << 10, 1 << 20, 32 << 20, "defaults (the machine reported no cache sizes)");

    /// <summary>This machine's caches, read once.</summary>
    public static CpuCaches Current { get; } = Detect();

    /// <summary>"L1d 32 KiB, L2 512 KiB, L3 32 MiB (sysfs)": for run headers and `devices`.</summary>
    public string Describe() => $"L1d {FormatBytes(L1DataBytes)}, L2 {FormatBytes(L2Bytes)}, L3 {FormatBytes(L3Bytes)} ({Source})";

    private static CpuCaches Detect()
    {
        try
        {
            return FromSysfs("/sys/devices/system/cpu/cpu0/cache") ?? Fallback;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fallback;
        }
    }

    /// <summary>
    /// Linux: one indexN folder per cache of cpu0 with level, type (Data, Instruction, Unified) and size ("48K", "2048K").
    /// Levels the folder does not list keep their fallback. Null when there is no such folder or it names no data cache.
    /// </summary>
    internal static CpuCaches? FromSysfs(string cacheFolder)
    {
        if (!Directory.Exists(cacheFolder)) return null;
        long l1 = 0, l2 = 0, l3 = 0;
        foreach (var index in Directory.EnumerateDirectories(cacheFolder, "index*"))
        {
            string? level = ReadLine(Path.Combine(index, "level")), type = ReadLine(Path.Combine(index, "type"));
            long size = ParseSize(ReadLine(Path.Combine(index, "size")));
            if (level is null || type is null || size <= 0 || type == "Instruction") continue;
            switch (level)
            {
                case "1": l1 = size; break;
                case "2": l2 = size; break;
                case "3": l3 = size; break;
            }
        }
        if (l1 == 0 && l2 == 0 && l3 == 0) return null;
        var fallback = Fallback;
        return new CpuCaches(l1 > 0 ? l1 : fallback.L1DataBytes, l2 > 0 ? l2 : fallback.L2Bytes, l3 > 0 ? l3 : fallback.L3Bytes,
            l1 > 0 && l2 > 0 ? "sysfs" : "sysfs, partly defaults");
    }

    /// <summary>"48K" → 49152, "2M" → 2097152, "512" → 512; anything else 0.</summary>
    internal static long ParseSize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return 0;
        text = text.Trim();
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
        if (unit != 1) text = text[..^1];
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0 ? value * unit : 0;
    }

    private static string? ReadLine(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    /// <summary>"512 KiB", "32 MiB".</summary>
    internal static string FormatBytes(long bytes) =>
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
}
