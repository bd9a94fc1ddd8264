using System.Text.RegularExpressions;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;
using Spectre.Console;

namespace NativeConv.Tests.Reports;

/// <summary>The live training display in a narrow terminal, the study clock behind its ETA, and the machine-load record.</summary>
public sealed partial class ProgressDisplayTests
{
    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex AnsiEscape();

    private static (IAnsiConsole Console, StringWriter Output) Terminal(int width)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.Yes, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.Yes,
        });
        console.Profile.Width = width;
        console.Profile.Capabilities.Unicode = true;
        return (console, output);
    }

    private static StudyClock TwoModelStudy(Func<double> seconds) => new(
        [
            new ClockUnit("fmnist-mlp", 1, 2, 42, 1, 3, 1), new ClockUnit("fmnist-mlp", 1, 2, 43, 2, 3, 1), new ClockUnit("fmnist-mlp", 1, 2, 44, 3, 3, 1),
            new ClockUnit("fmnist-cnn", 2, 2, 42, 1, 3, 5), new ClockUnit("fmnist-cnn", 2, 2, 43, 2, 3, 5), new ClockUnit("fmnist-cnn", 2, 2, 44, 3, 3, 5),
        ], seconds);

    [Fact]
    public void An_80_column_terminal_shows_the_bar_the_study_position_and_the_eta()
    {
        var (console, output) = Terminal(80);
        double now = 0;
        var clock = TwoModelStudy(() => now);
        var progress = new SpectreTrainingProgress(console) { Study = clock };
        clock.Begin(0);
        clock.End();
        now = 30;
        clock.Begin(3);
        progress.RunEpoch(2, 10, 100, display =>
        {
            for (int step = 1; step <= 100; step++)
            {
                now += 0.5;
                display.Step(new StepProgress(2, 10, step, 100, 0.4123, 0.8712, 9000));
            }
            display.Status("validating");
            display.Completed(new EpochMetrics(2, 0.4123, 0.8712, 0.4011, 0.8650, 50, 2, 9000));
        });

        // The live display moves the cursor between frames: an escape sequence ends a line as much as a newline does.
        var lines = AnsiEscape().Replace(output.ToString(), "\n").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: '{l}'"));
        var bar = lines.Last(l => l.Contains('█'));
        // The bar is there, full, at least half the width, with the elapsed and remaining time on its line (not wrapped below).
        Assert.Matches(@"^epoch 2/10 █{40,} 100% \d+:\d\d < \d+:\d\d *$", bar);
        Assert.Contains(lines, l => l.StartsWith("study ", StringComparison.Ordinal) && l.Contains("ETA ") && l.Contains("model 2/2") && l.Contains("seed 42 (1/3)"));
        // The epoch's summary stays after the live lines are cleared, wrapped to the width.
        Assert.Equal("epoch 2/10  loss 0.4123  acc 87.12%  val_loss 0.4011  val_acc 86.50%  52.0s  9000 img/s", string.Join("  ", lines[^2..]).Trim());
        Assert.Contains(lines, l => Regex.IsMatch(l, @"step \d+/100  loss 0\.4123"));
    }

    [Theory]
    [InlineData(80)]
    [InlineData(60)]
    [InlineData(200)]
    public void Every_line_fits_the_width_and_the_bar_keeps_its_room(int width)
    {
        double now = 100;
        var clock = TwoModelStudy(() => now);
        clock.Begin(4);
        var view = new SpectreTrainingProgress.EpochView(7, 30, 469, 0) { Step = 234, Numbers = "step 234/469  loss 0.2987  acc 89.10%  10234 img/s" };
        clock.Estimate(0.2);
        now = 160;
        var lines = SpectreTrainingProgress.Lines(view, width, unicode: true, clock, TimeSpan.FromSeconds(61));
        var plain = lines.Select(l => Markup.Remove(l)).ToList();
        Assert.All(plain, l => Assert.True(l.Length < width, $"{l.Length} ≥ {width}: '{l}'"));
        var bar = plain.Single(l => l.StartsWith("epoch 7/30 ", StringComparison.Ordinal));
        int cells = bar.Count(ch => ch is '█' or '░');
        Assert.True(cells >= width / 3, $"bar of {cells} cells at width {width}: '{bar}'");
        Assert.Equal(Math.Round(cells * 234 / 469.0), bar.Count(ch => ch == '█'));
        Assert.Contains("1:01 < 1:01", bar); // elapsed 61 s at half the epoch: 61 s left
        Assert.StartsWith("study ", plain[0]);
        Assert.Contains("ETA ", plain[0]);
    }

    [Fact]
    public void The_study_clock_weighs_units_by_cost_and_projects_the_rate_so_far()
    {
        double now = 0;
        var clock = new StudyClock([new ClockUnit("a", 1, 2, 1, 1, 1, 1), new ClockUnit("b", 2, 2, 1, 1, 1, 3)], () => now);
        clock.Begin(0);
        Assert.Equal(new StudyEstimate(0, null), clock.Estimate(0)); // nothing done: no rate yet
        now = 10;
        // Half of unit a (cost 1) in 10 s: 0.05 cost/s; 3.5 cost left → 70 s; 0.5 of 4 done.
        Assert.Equal(new StudyEstimate(0.125, TimeSpan.FromSeconds(70)), clock.Estimate(0.5));
        now = 20;
        clock.End();
        clock.Begin(1);
        // A resumed unit starting at 1/3 done: its first third is not this process's work, but it is not left either.
        Assert.Equal(new StudyEstimate(0.5, TimeSpan.FromSeconds(40)), clock.Estimate(1 / 3.0));
        Assert.Equal("1:02:03", TrainingProgress.FormatClock(new TimeSpan(1, 2, 3)));
        Assert.Equal("0:07", TrainingProgress.FormatClock(TimeSpan.FromSeconds(7)));
        Assert.Equal("—", TrainingProgress.FormatClock(null));
        // Multiply-adds per image: a 1×1 conv 1→2 has 4 parameters at 28·28 positions; a ReLU one per output.
        var shape = new NativeConv.Tensors.Shape(1, 1, 28, 28);
        Assert.Equal(4 * 28 * 28, StudyClock.CostOf(new NativeConv.Layers.Sequential(new NativeConv.Layers.Conv2D(1, 2, 1)), shape));
        Assert.Equal(4 * 28 * 28 + 2 * 28 * 28, StudyClock.CostOf(new NativeConv.Layers.Sequential(new NativeConv.Layers.Conv2D(1, 2, 1), new NativeConv.Layers.ReLU()), shape));
    }

    [Fact]
    public void Redirected_output_gets_a_study_line_per_epoch()
    {
        var output = new StringWriter();
        double now = 0;
        var clock = TwoModelStudy(() => now);
        var progress = new PlainTrainingProgress(output, TimeSpan.FromHours(1)) { Study = clock };
        clock.Begin(0);
        clock.End(); // 1 of the study's 18 cost units: 6 %
        clock.Begin(1);
        progress.RunEpoch(1, 5, 10, display => display.Completed(new EpochMetrics(1, 1, 0.5, 1, 0.5, 1, 1, 100)));
        Assert.StartsWith("fmnist-mlp: model 1/2, seed 43 (2/3); study 6% done, ETA —", output.ToString());
        Assert.Contains("epoch 1/5  loss", output.ToString());
    }

    [Fact]
    public void Machine_load_reads_proc_stat_and_states_the_rule()
    {
        // user nice system idle iowait irq softirq steal: busy = 100 + 20 + 30 + 6 + 7 + 8 ticks of 1/100 s.
        Assert.Equal(1.71, CpuUsage.ParseBusySeconds("cpu  100 20 30 400 50 6 7 8 0 0")!.Value, 10);
        Assert.Null(CpuUsage.ParseBusySeconds("cpu0 1 2 3 4 5 6 7 8"));
        Assert.True(CpuUsage.IsBusy(100, 190, 2, otherCores: 0.3));
        Assert.False(CpuUsage.IsBusy(100, 190, 2, otherCores: 0.1));
        Assert.True(CpuUsage.IsBusy(100, 90, 2, otherCores: null));
        Assert.False(CpuUsage.IsBusy(100, 110, 2, otherCores: null));
        var usage = new CpuUsage(100, 185, 2, 2, 0.05, false);
        Assert.Equal("CPU time 1.85 × wall on 2 thread(s) (185 s CPU in 100 s, 2 logical cores); other processes kept 0.05 cores busy on average: the machine was not busy.", usage.Describe());
        var measured = CpuUsage.Start().Stop(2);
        Assert.True(measured.WallSeconds >= 0 && measured.ProcessCpuSeconds >= 0);
        if (OperatingSystem.IsLinux()) Assert.NotNull(measured.OtherCores);
    }
}
