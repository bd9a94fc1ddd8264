using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Tests.Kernels;

public class CpuCachesTests
{
    [Theory]
    [InlineData("48K", 48L << 10)]
    [InlineData("2048K", 2048L << 10)]
    [InlineData("2M", 2L << 20)]
    [InlineData("512", 512L)]
    [InlineData("", 0L)]
    [InlineData("K", 0L)]
    [InlineData("-4K", 0L)]
    [InlineData("lots", 0L)]
    public void ParseSize_reads_sysfs_sizes(string text, long expected) => Assert.Equal(expected, CpuCaches.ParseSize(text));

    [Fact]
    public void FromSysfs_takes_data_and_unified_caches_and_skips_instruction_ones()
    {
        string root = Directory.CreateTempSubdirectory("caches").FullName;
        try
        {
            Write(root, 0, "1", "Data", "48K");
            Write(root, 1, "1", "Instruction", "32K");
            Write(root, 2, "2", "Unified", "2048K");
            Write(root, 3, "3", "Unified", "105M");
            var caches = CpuCaches.FromSysfs(root)!;
            Assert.Equal(48L << 10, caches.L1DataBytes);
            Assert.Equal(2L << 20, caches.L2Bytes);
            Assert.Equal(105L << 20, caches.L3Bytes);
            Assert.Equal("L1d 48 KiB, L2 2 MiB, L3 105 MiB (sysfs)", caches.Describe());
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void FromSysfs_without_a_cache_folder_is_null_and_Current_is_always_usable()
    {
        Assert.Null(CpuCaches.FromSysfs("/nonexistent/cache"));
        var current = CpuCaches.Current;
        Assert.True(current.L1DataBytes >= 4096 && current.L2Bytes >= current.L1DataBytes && current.L3Bytes > 0, current.Describe());
    }

    private static void Write(string root, int index, string level, string type, string size)
    {
        string dir = Path.Combine(root, $"index{index}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "level"), level + "\n");
        File.WriteAllText(Path.Combine(dir, "type"), type + "\n");
        File.WriteAllText(Path.Combine(dir, "size"), size + "\n");
    }
}
