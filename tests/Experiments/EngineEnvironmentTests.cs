using System.Text.Json;
using NativeConv.Experiments.Commands;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Experiments;

/// <summary>
/// The engine's environment variables (NATIVECONV_CONV_ALGO, NATIVECONV_FUSE), parsed once at the command-line edge:
/// every bad value is one line naming the variable and its valid values, exit code 2, for every command; good values reach
/// the engine and the run header. Through the real command line (Program.Run in-process) with an injected environment,
/// so no test sets a process-wide variable. Runs alone (engine-settings collection): good values configure the engine
/// process-wide; every test puts the options back.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)]
public sealed class EngineEnvironmentTests() : StudyRunsRoot("nativeconv-engine-env-")
{
    private const string Algo = EngineEnvironment.ConvAlgorithmVariable;
    private const string Fuse = EngineEnvironment.FuseVariable;
    private const string AlgoValues = "use auto, im2col or winograd (or leave it unset).";
    private const string FuseValues = "use 1 (fuse Conv2D + ReLU, the default) or 0 (run them separately), or leave it unset.";

    private static readonly string[][] Commands =
    [
        ["devices"],
        ["models"],
        ["throughput", "--model", "fmnist-mlp", "--batch", "2", "--threads", "1", "--steps", "1", "--warmup", "0", "--warmup-seconds", "0"],
        ["fmnist", "--limit", "20", "--epochs", "1", "--threads", "1", "--no-download"],
        ["kernel-study", "--limit", "20", "--epochs", "1", "--no-download"],
        ["all", "--limit", "20", "--epochs", "1", "--no-download"],
        ["eda", "--dataset", "fmnist", "--no-download"],
    ];

    public static TheoryData<string, string, string, string> BadValues()
    {
        var data = new TheoryData<string, string, string, string>();
        var values = new (string Variable, string Value, string Expected)[]
        {
            (Algo, "bogus", $"error: {Algo}='bogus' is not an algorithm; {AlgoValues}"),
            (Algo, "im2col,winograd", $"error: {Algo}='im2col,winograd' is not an algorithm; {AlgoValues}"),
            (Algo, "1", $"error: {Algo}='1' is not an algorithm; {AlgoValues}"),
            (Fuse, "2", $"error: {Fuse}='2' is not a switch; {FuseValues}"),
            (Fuse, "yes", $"error: {Fuse}='yes' is not a switch; {FuseValues}"),
            (Fuse, "auto", $"error: {Fuse}='auto' is not a switch; {FuseValues}"),
        };
        foreach (var (variable, value, expected) in values)
            foreach (var command in Commands)
                data.Add(variable, value, expected, string.Join(' ', command));
        return data;
    }

    [Theory]
    [MemberData(nameof(BadValues))]
    public void A_bad_value_is_one_line_naming_the_variable_and_its_values_and_exit_code_2_for_every_command(
        string variable, string value, string expected, string commandLine)
    {
        var before = Engine.Options;
        var (code, output, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { [variable] = value }, commandLine.Split(' '));
        Assert.Equal(2, code);
        Assert.Equal(expected + Environment.NewLine, error);
        Assert.Equal("", output); // refused before the command started: no header, nothing run
        Assert.Equal(before, Engine.Options); // and nothing applied
    }

    [Fact]
    public void A_bad_value_with_a_newline_in_it_still_prints_one_line()
    {
        var (code, _, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { [Algo] = "wino\ngrad" }, "devices");
        Assert.Equal(2, code);
        Assert.Equal($"error: {Algo}='wino\\u000agrad' is not an algorithm; {AlgoValues}" + Environment.NewLine, error);
    }

    [Fact]
    public void Two_bad_variables_report_the_first_and_still_exit_2()
    {
        var (code, _, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { [Algo] = "x", [Fuse] = "y" }, "devices");
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: {Algo}='x'", error);
    }

    [Theory]
    [InlineData(null, Conv2DAlgorithm.Auto)]
    [InlineData("", Conv2DAlgorithm.Auto)]
    [InlineData("  ", Conv2DAlgorithm.Auto)]
    [InlineData("auto", Conv2DAlgorithm.Auto)]
    [InlineData("im2col", Conv2DAlgorithm.Im2Col)]
    [InlineData(" IM2COL ", Conv2DAlgorithm.Im2Col)]
    [InlineData("winograd", Conv2DAlgorithm.Winograd)]
    [InlineData("Winograd", Conv2DAlgorithm.Winograd)]
    public void Conv_algorithm_values_parse_case_and_space_insensitively(string? value, Conv2DAlgorithm expected) =>
        Assert.Equal(expected, EngineEnvironment.Read(name => name == Algo ? value : null).ConvAlgorithm);

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("ON", true)]
    [InlineData("0", false)]
    [InlineData(" false ", false)]
    [InlineData("Off", false)]
    public void Fuse_values_parse_case_and_space_insensitively(string? value, bool expected) =>
        Assert.Equal(expected, EngineEnvironment.Read(name => name == Fuse ? value : null).FuseConvRelu);

    [Fact]
    public void Only_the_engine_variables_are_read()
    {
        var asked = new List<string>();
        EngineEnvironment.Read(name => { asked.Add(name); return null; });
        Assert.Equal([Algo, Fuse], asked);
    }

    [Theory]
    [InlineData("im2col", "0", Conv2DAlgorithm.Im2Col, false, "conv im2col, conv+relu fusion off")]
    [InlineData("winograd", null, Conv2DAlgorithm.Winograd, true, "conv winograd, conv+relu fusion on")]
    [InlineData(null, "off", Conv2DAlgorithm.Auto, false, "conv auto, conv+relu fusion off")]
    [InlineData(null, null, Conv2DAlgorithm.Auto, true, "conv auto, conv+relu fusion on")]
    public void Good_values_reach_the_engine_and_the_run_header(string? algo, string? fuse, Conv2DAlgorithm algorithm, bool fused, string described)
    {
        var saved = Engine.Options;
        try
        {
            // Start from the opposite settings, so the run must apply its own (nothing left over from an earlier test passes).
            Engine.Configure(saved with
            {
                ConvAlgorithm = algorithm == Conv2DAlgorithm.Im2Col ? Conv2DAlgorithm.Winograd : Conv2DAlgorithm.Im2Col,
                FuseConvRelu = !fused,
                Threads = 2,
            });
            var (code, output, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { [Algo] = algo, [Fuse] = fuse },
                "throughput", "--model", "fmnist-cnn", "--batch", "2", "--threads", "1", "--steps", "1", "--warmup", "0", "--warmup-seconds", "0", "--profile");
            Assert.True(code == 0, error);
            var options = Engine.Options;
            Assert.Equal(algorithm, options.ConvAlgorithm);
            Assert.Equal(fused, options.FuseConvRelu);
            Assert.Equal(1, options.Threads);
            Assert.Same(CpuBackend.Instance, options.Backend);
            Assert.Equal(algorithm, Conv2DAlgorithms.Current);

            var lines = Lines(output);
            Assert.Equal(described, HeaderValue(lines, "cpu_kernels"));
            Assert.Equal(SimdPath.Current, HeaderValue(lines, "simd"));
            Assert.Equal(CpuCaches.Current.Describe(), HeaderValue(lines, "cpu_caches"));
            Assert.Equal(NativeConv.Tensors.Backends.Cpu.Kernels.Gemm.Sgemm.Blocking, HeaderValue(lines, "gemm_blocking"));
            // The fusion really decided how the model ran: the profile lists the fused op, or Conv2D and Relu apart.
            var ops = lines.SkipWhile(l => !l.StartsWith("profile:", StringComparison.Ordinal)).Skip(2)
                .TakeWhile(l => l.Length > 3 && char.IsDigit(l[2])).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToArray();
            Assert.Equal(fused, ops.Contains("Conv2DRelu"));
            Assert.Equal(!fused, ops.Contains("Conv2D") && ops.Contains("Relu"));
        }
        finally { Engine.Configure(saved); }
    }

    [Fact]
    public void Devices_prints_the_vector_path_the_caches_and_the_kernel_settings_from_the_environment()
    {
        var saved = Engine.Options;
        try
        {
            var (code, output, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { [Algo] = "winograd", [Fuse] = "0" }, "devices");
            Assert.True(code == 0, error);
            var lines = Lines(output);
            Assert.Contains($"CPU vector path: {SimdPath.Current}", lines);
            Assert.Contains($"CPU caches: {CpuCaches.Current.Describe()}", lines);
            Assert.Contains($"CPU kernels: conv winograd, conv+relu fusion off ({Algo}, {Fuse})", lines);
            Assert.Contains(lines, l => l.TrimStart().StartsWith("cpu ", StringComparison.Ordinal) && l.Contains($"SIMD {SimdPath.Current},", StringComparison.Ordinal));
        }
        finally { Engine.Configure(saved); }
    }

    [Fact]
    public void A_study_records_the_settings_from_the_environment_and_the_vector_path_in_its_header_and_results_json()
    {
        var saved = Engine.Options;
        try
        {
            var (code, output, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { [Algo] = "im2col", [Fuse] = "0" },
                Study("fmnist", "--models", "fmnist-mlp", "--limit", "20", "--epochs", "1"));
            Assert.True(code == 0, error + output);
            var lines = Lines(output);
            Assert.Equal("conv im2col, conv+relu fusion off", HeaderValue(lines, "cpu_kernels"));
            Assert.Equal(SimdPath.Current, HeaderValue(lines, "simd"));
            Assert.Equal(CpuCaches.Current.Describe(), HeaderValue(lines, "cpu_caches"));

            var folder = Assert.Single(Directory.GetDirectories(Root, "fmnist-*"));
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
            var root = json.RootElement;
            var settings = root.GetProperty("settings");
            Assert.Equal("conv im2col, conv+relu fusion off", settings.GetProperty("cpu_kernels").GetString());
            Assert.Equal(SimdPath.Current, settings.GetProperty("simd").GetString());
            var machine = root.GetProperty("machine");
            Assert.Equal(SimdPath.Current, machine.GetProperty("simd").GetString());
            Assert.Equal(CpuCaches.Current.Describe(), machine.GetProperty("cpu_caches").GetString());
        }
        finally { Engine.Configure(saved); }
    }

    /// <summary>The value of the run header's "key: value" line (the keys are padded to one width).</summary>
    private static string HeaderValue(string[] lines, string key) =>
        Assert.Single(lines, l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();

    private static string[] Lines(string text) => text.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
}
