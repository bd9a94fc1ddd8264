using NativeConv.Experiments;
using NativeConv.Layers;
using NativeConv.Tensors;

namespace NativeConv.Tests.EndToEnd;

/// <summary>The experiments commands, run in-process through the real command line.</summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // throughput sets Engine.Threads
public class CommandTests
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args) => NativeConv.Tests.Support.Cli.Run(args);

    [Fact]
    public void Models_lists_every_model_with_its_total()
    {
        var (code, output, error) = Run("models");
        Assert.True(code == 0, error);
        foreach (var name in ModelZoo.Names) Assert.Contains(name, output);
        foreach (var total in new[] { "109,386", "206,922", "215,370", "1,707,274", "14,450", "44,762", "157,226", "589,514" })
            Assert.Contains($"Total params: {total}", output);
        Assert.Contains("(None, 16, 28, 28)", output);
        Assert.Contains("GlobalAvgPool2D", output);
    }

    [Fact]
    public void Throughput_profile_lists_every_op_of_the_model_in_order_and_still_ends_with_images_per_second()
    {
        var (code, output, error) = Run("throughput", "--model", "fmnist-cnn", "--batch", "4", "--threads", "1", "--steps", "2", "--warmup", "0", "--warmup-seconds", "0", "--profile");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.StartsWith("images/s: ", lines[^1]);
        // fmnist-cnn: conv + relu (bias and ReLU fused, Engine.FuseConvRelu), pool, twice; flatten; dense = matmul + bias;
        // relu; dense; loss.
        var rows = lines.SkipWhile(l => !l.StartsWith("profile:")).Skip(2).TakeWhile(l => l.Length > 3 && char.IsDigit(l[2])).ToArray();
        string[] expected = Engine.FuseConvRelu
            ? ["Conv2DRelu", "MaxPool2D", "Conv2DRelu", "MaxPool2D", "Reshape", "MatMul", "AddBias", "Relu", "MatMul", "AddBias", "SoftmaxCrossEntropy"]
            : ["Conv2D", "Relu", "MaxPool2D", "Conv2D", "Relu", "MaxPool2D", "Reshape", "MatMul", "AddBias", "Relu", "MatMul", "AddBias", "SoftmaxCrossEntropy"];
        Assert.Equal(expected, rows.Select(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToArray());
        Assert.Contains("(4, 16, 28, 28)", rows[0]);
        Assert.Contains(lines, l => l.TrimStart().StartsWith("optimizer (Adam)"));
        Assert.Contains(lines, l => l.StartsWith("by op kind:"));
    }

    [Theory]
    [InlineData(1234.56, "1234.6")]
    [InlineData(1.0, "1.0")]
    [InlineData(0.0123456, "0.0123")] // a slow device must not print "0.0", which reads as "nothing ran"
    public void Throughput_rate_keeps_significant_digits_below_one_image_per_second(double rate, string expected) =>
        Assert.Equal(expected, NativeConv.Experiments.Commands.ThroughputCommand.FormatRate(rate));

    [Fact]
    public void Models_with_a_name_shows_only_that_model_and_rejects_unknown_names()
    {
        var (code, output, _) = Run("models", "--name", "cifar-big");
        Assert.Equal(0, code);
        Assert.Contains("Total params: 157,226", output);
        Assert.DoesNotContain("fmnist-mlp", output);

        (code, _, var error) = Run("models", "--name", "vgg16");
        Assert.NotEqual(0, code);
        Assert.Contains("cifar-extra-big", error);
    }

    [Fact]
    public void Throughput_prints_settings_first_and_ends_with_the_images_per_second_line()
    {
        var (code, output, error) = Run("throughput", "--model", "fmnist-cnn", "--batch", "8", "--threads", "1", "--steps", "2", "--warmup", "1", "--seed", "3");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.StartsWith("command:", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("seed:") && l.EndsWith(" 3"));
        Assert.Contains(lines, l => l.StartsWith("threads:") && l.EndsWith(" 1"));
        Assert.Contains(lines, l => l.StartsWith("batch:") && l.EndsWith(" 8"));
        Assert.Contains(lines, l => l.StartsWith("model:") && l.EndsWith("fmnist-cnn"));
        var last = lines[^1];
        Assert.StartsWith("images/s: ", last);
        double imagesPerSecond = double.Parse(last["images/s: ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(imagesPerSecond > 0);
        Assert.Single(lines, l => l.StartsWith("images/s"));
    }

    [Fact]
    public void Throughput_inference_prints_the_plan_and_the_latency_and_ends_with_images_per_second()
    {
        var (code, output, error) = Run("throughput", "--inference", "--model", "cifar-small", "--batch", "1", "--threads", "2", "--steps", "5", "--warmup", "1", "--warmup-seconds", "0");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Contains(lines, l => l.StartsWith("mode:") && l.EndsWith("inference"));
        // cifar-small: five convolutions (two with their pool fused), GAP, two Dense (Dropout is the identity).
        var plan = lines.Where(l => l.StartsWith("plan: ")).ToArray();
        Assert.Equal(8, plan.Length);
        // One image on two threads: its im2col layers are cut into bands of (pooled) output rows, one thread a band.
        Assert.Contains(plan, l => l.Contains("conv 8→8") && l.Contains("maxpool 2×2/2") && l.Contains("4 row bands an image"));
        Assert.Contains(plan, l => l.Contains("dense 128→10") && l.Contains("gemv"));
        var latency = Assert.Single(lines, l => l.StartsWith("latency ms/call: "));
        Assert.Matches(@"p50 [0-9.]+, p99 [0-9.]+, mean [0-9.]+", latency);
        Assert.StartsWith("images/s: ", lines[^1]);
        Assert.True(double.Parse(lines[^1]["images/s: ".Length..], System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public void Throughput_inference_profile_times_every_step_of_the_plan()
    {
        var (code, output, error) = Run("throughput", "--inference", "--profile", "--model", "fmnist-cnn", "--batch", "3", "--threads", "2", "--steps", "4", "--warmup", "1", "--warmup-seconds", "0");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var plan = lines.Where(l => l.StartsWith("plan: ")).Select(l => l["plan: ".Length..]).ToArray();
        int header = Array.FindIndex(lines, l => l.StartsWith("profile: ms per call by step"));
        Assert.True(header > 0, output);
        // One line per step of the plan, in its order: "  <ms>  <share> %  <the plan's line>", the shares adding up to 100.
        var steps = lines.Skip(header + 1).Take(plan.Length).ToArray();
        double shares = 0;
        for (int i = 0; i < plan.Length; i++)
        {
            var match = System.Text.RegularExpressions.Regex.Match(steps[i], @"^\s+([0-9.]+)\s+([0-9.]+) %  (.+)$");
            Assert.True(match.Success, steps[i]);
            Assert.Equal(plan[i], match.Groups[3].Value);
            shares += double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.InRange(shares, 99.5, 100.5);
        Assert.StartsWith("images/s: ", lines[^1]);
    }

    [Fact]
    public void Throughput_with_an_unknown_model_lists_the_valid_names()
    {
        var (code, _, error) = Run("throughput", "--model", "lenet", "--steps", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("lenet", error);
        foreach (var name in ModelZoo.Names) Assert.Contains(name, error);
    }

    [Fact]
    public void Bad_common_options_are_parse_errors_not_crashes()
    {
        var (code, _, error) = Run("throughput", "--model", "fmnist-mlp", "--device", "tpu");
        Assert.NotEqual(0, code);
        Assert.Contains("tpu", error);
        (code, _, error) = Run("throughput", "--model", "fmnist-mlp", "--threads", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--threads", error);
        (code, _, error) = Run("throughput", "--model", "fmnist-mlp", "--warmup-seconds", "-1");
        Assert.Equal(2, code);
        Assert.Contains("--warmup-seconds", error);

        (code, _, error) = Run("throughput", "--model", "fmnist-mlp", "--batch", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--batch", error);
    }

    [Fact]
    public void Engine_errors_print_their_message_without_a_stack_trace()
    {
        // 10⁹ × 3 × 32 × 32 floats do not fit one tensor: the Shape check refuses it with a message naming the fix.
        var (code, output, error) = Run("throughput", "--model", "cifar-small", "--batch", "1000000000", "--steps", "1", "--warmup", "0");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("split the batch", error);
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("images/s", output);
    }

    [Theory]
    [InlineData("NATIVECONV_CONV_ALGO", "bogus", "error: NATIVECONV_CONV_ALGO='bogus' is not an algorithm; use auto, im2col or winograd (or leave it unset).")]
    [InlineData("NATIVECONV_FUSE", "maybe", "error: NATIVECONV_FUSE='maybe' is not a switch; use 1 (fuse Conv2D + ReLU, the default) or 0 (run them separately), or leave it unset.")]
    public void A_real_process_with_a_bad_engine_variable_prints_one_line_and_exits_2(string variable, string value, string expected)
    {
        // A process of its own: its static initializers see the variable too, so no TypeInitializationException may escape.
        var (code, output, error) = RunProcess(new() { [variable] = value }, "throughput", "--model", "fmnist-mlp", "--steps", "1");
        Assert.Equal(2, code);
        Assert.Equal(expected, error.TrimEnd('\n', '\r'));
        Assert.Equal("", output);
    }

    [Fact]
    public void A_real_process_with_avx2_hidden_names_the_128_bit_path_not_scalar()
    {
        string expected = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "Vector128 (SSE)",
            System.Runtime.InteropServices.Architecture.Arm64 => "Vector128 (NEON)", // the variable means nothing there
            _ => "",
        };
        if (expected.Length == 0) return; // no known 128-bit path to expect on this architecture
        var (code, output, error) = RunProcess(new() { ["DOTNET_EnableAVX2"] = "0" }, "devices");
        Assert.True(code == 0, error);
        Assert.Contains($"CPU vector path: {expected}", output);
        Assert.Contains($"SIMD {expected},", output);
    }

    /// <summary>
    /// The experiments program as its own process (the build beside the tests), with the engine's and the runtime's SIMD
    /// variables cleared first (a CI leg may set them) and <paramref name="variables"/> set.
    /// </summary>
    private static (int ExitCode, string Output, string Error) RunProcess(Dictionary<string, string> variables, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "NativeConv.Experiments.dll");
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new System.Diagnostics.ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var name in start.Environment.Keys.ToList())
            if (name.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase) || name.StartsWith("NATIVECONV_", StringComparison.Ordinal))
                start.Environment.Remove(name);
        foreach (var (name, value) in variables) start.Environment[name] = value;
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{string.Join(' ', args)} did not finish in 2 minutes");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("models", "--help")]
    [InlineData("throughput", "--help")]
    public void Help_works_everywhere(params string[] args)
    {
        var (code, output, _) = Run(args);
        Assert.Equal(0, code);
        Assert.Contains("Usage:", output);
    }
}
