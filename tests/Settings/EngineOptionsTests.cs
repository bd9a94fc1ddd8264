using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tests.Settings;

/// <summary>
/// EngineOptions and Engine.Configure: every setting validated, applied in one call, read back by Engine.Options; a bad
/// option applies nothing. Runs alone (engine-settings collection): Configure is process-wide; every test puts it back.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)]
public sealed class EngineOptionsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(257)]
    public void Threads_out_of_range_are_refused_naming_the_setting(int threads)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new EngineOptions { Threads = threads }.Validate());
        Assert.Equal("Threads", e.ParamName);
        Assert.Contains("threads must be between 1 and 256", e.Message);
    }

    [Fact]
    public void An_undefined_algorithm_is_refused_naming_the_setting()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new EngineOptions { ConvAlgorithm = (Conv2DAlgorithm)7 }.Validate());
        Assert.Equal("ConvAlgorithm", e.ParamName);
    }

    [Fact]
    public void Defaults_are_every_processor_auto_fused_and_the_cpu()
    {
        var d = EngineOptions.Defaults;
        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, EngineOptions.MaxThreads), d.Threads);
        Assert.Equal(Conv2DAlgorithm.Auto, d.ConvAlgorithm);
        Assert.True(d.FuseConvRelu);
        Assert.Null(d.Backend);
        Assert.Same(d, d.Validate());
        Assert.Equal("conv auto, conv+relu fusion on", d.DescribeCpuKernels());
    }

    [Fact]
    public void Configure_applies_every_setting_and_Options_reads_them_back()
    {
        var saved = Engine.Options;
        try
        {
            foreach (var options in new[]
            {
                new EngineOptions { Threads = 1, ConvAlgorithm = Conv2DAlgorithm.Winograd, FuseConvRelu = false, Backend = CpuBackend.Instance },
                new EngineOptions { Threads = 3, ConvAlgorithm = Conv2DAlgorithm.Im2Col, FuseConvRelu = true, Backend = CpuBackend.Instance },
            })
            {
                Engine.Configure(options);
                Assert.Equal(options, Engine.Options);
                // Where the engine's parts read them:
                Assert.Equal(options.Threads, ParallelFor.ThreadCount);
                Assert.Equal(options.ConvAlgorithm, Conv2DAlgorithms.Default);
                Assert.Equal(options.ConvAlgorithm, Conv2DAlgorithms.Current);
                Assert.Equal(options.FuseConvRelu, Engine.FuseConvRelu);
                Assert.Same(options.Backend, Engine.DefaultBackend);
            }
        }
        finally { Engine.Configure(saved); }
    }

    [Fact]
    public void A_null_backend_means_the_cpu_engine()
    {
        var saved = Engine.Options;
        try
        {
            Engine.Configure(new EngineOptions { Threads = 2 });
            Assert.Same(CpuBackend.Instance, Engine.DefaultBackend);
            Assert.Same(CpuBackend.Instance, Engine.Options.Backend);
        }
        finally { Engine.Configure(saved); }
    }

    [Fact]
    public void Bad_options_apply_nothing()
    {
        var saved = Engine.Options;
        try
        {
            var before = saved with { Threads = 2, ConvAlgorithm = Conv2DAlgorithm.Im2Col, FuseConvRelu = false };
            Engine.Configure(before);
            Assert.ThrowsAny<ArgumentException>(() => Engine.Configure(
                new EngineOptions { Threads = 0, ConvAlgorithm = Conv2DAlgorithm.Winograd, FuseConvRelu = true }));
            Assert.Equal(before, Engine.Options);
            Assert.Throws<ArgumentNullException>(() => Engine.Configure(null!));
        }
        finally { Engine.Configure(saved); }
    }

    [Fact]
    public void The_single_setting_shorthands_change_the_same_state()
    {
        var saved = Engine.Options;
        try
        {
            Engine.Threads = 2;
            Engine.FuseConvRelu = false;
            var options = Engine.Options;
            Assert.Equal(2, options.Threads);
            Assert.False(options.FuseConvRelu);
            Engine.FuseConvRelu = true;
            Assert.True(Engine.Options.FuseConvRelu);
        }
        finally { Engine.Configure(saved); }
    }
}
