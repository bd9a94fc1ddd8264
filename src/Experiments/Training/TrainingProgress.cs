using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace NativeConv.Experiments.Training;

/// <summary>Live numbers of the epoch in progress, handed to a progress display after every step (a struct: no allocation).</summary>
public readonly record struct StepProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, double Accuracy, double ImagesPerSecond);

/// <summary>
/// How the trainer shows its progress. <see cref="RunEpoch"/> wraps one epoch's work (so a live display can own the console
/// while it runs); the work reports through the <see cref="EpochDisplay"/> it is given. Pick one with <see cref="ForConsole"/>.
/// </summary>
public abstract class TrainingProgress
{
    /// <summary>Runs <paramref name="work"/> (one epoch) while displaying its progress.</summary>
    public abstract void RunEpoch(int epoch, int epochs, int steps, Action<EpochDisplay> work);

    /// <summary>A line of text outside any epoch (settings, resume notices, warnings).</summary>
    public abstract void Message(string text);

    /// <summary>
    /// A live progress bar when the console is interactive; plain lines (every <paramref name="plainInterval"/>, default
    /// 15 s, and one per epoch) when the output is redirected, as in CI logs.
    /// </summary>
    public static TrainingProgress ForConsole(IAnsiConsole? console = null, TimeSpan? plainInterval = null)
    {
        console ??= AnsiConsole.Console;
        bool interactive = console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        return interactive
            ? new SpectreTrainingProgress(console)
            : new PlainTrainingProgress(Console.Out, plainInterval ?? TimeSpan.FromSeconds(15));
    }

    /// <summary>Shows nothing (tests, nested runs).</summary>
    public static TrainingProgress Silent { get; } = new SilentTrainingProgress();

    /// <summary>One epoch summary line, the same in every display.</summary>
    public static string FormatEpoch(EpochMetrics m, int epochs) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {m.Epoch}/{epochs}  loss {m.TrainLoss:F4}  acc {m.TrainAccuracy * 100:F2}%  val_loss {m.ValidationLoss:F4}  val_acc {m.ValidationAccuracy * 100:F2}%  {m.TrainSeconds + m.ValidationSeconds:F1}s  {m.ImagesPerSecond:F0} img/s");

    internal static string FormatStep(in StepProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {p.Epoch}/{p.Epochs}  step {p.Step}/{p.Steps}  loss {p.Loss:F4}  acc {p.Accuracy * 100:F2}%  {p.ImagesPerSecond:F0} img/s");
}

/// <summary>The display of one running epoch.</summary>
public abstract class EpochDisplay
{
    /// <summary>After each training step. Implementations throttle their redraws; the call itself must stay cheap.</summary>
    public abstract void Step(in StepProgress progress);

    /// <summary>A phase change inside the epoch ("validating").</summary>
    public abstract void Status(string text);

    /// <summary>The epoch's final numbers.</summary>
    public abstract void Completed(EpochMetrics metrics);
}

internal sealed class SilentTrainingProgress : TrainingProgress
{
    private sealed class Display : EpochDisplay
    {
        public static readonly Display Instance = new();
        public override void Step(in StepProgress progress) { }
        public override void Status(string text) { }
        public override void Completed(EpochMetrics metrics) { }
    }

    public override void RunEpoch(int epoch, int epochs, int steps, Action<EpochDisplay> work) => work(Display.Instance);
    public override void Message(string text) { }
}

/// <summary>Plain text lines for logs: the running numbers at most every interval, and one summary line per epoch.</summary>
public sealed class PlainTrainingProgress : TrainingProgress
{
    private readonly TextWriter _output;
    private readonly long _intervalTicks;

    public PlainTrainingProgress(TextWriter output, TimeSpan interval)
    {
        _output = output;
        _intervalTicks = (long)(interval.TotalSeconds * Stopwatch.Frequency);
    }

    public override void Message(string text) => _output.WriteLine(text);

    public override void RunEpoch(int epoch, int epochs, int steps, Action<EpochDisplay> work) =>
        work(new Display(this, epochs));

    private sealed class Display(PlainTrainingProgress owner, int epochs) : EpochDisplay
    {
        private long _lastLine = Stopwatch.GetTimestamp();

        public override void Step(in StepProgress progress)
        {
            long now = Stopwatch.GetTimestamp();
            if (now - _lastLine < owner._intervalTicks || progress.Step == progress.Steps) return;
            _lastLine = now;
            owner._output.WriteLine(FormatStep(progress));
        }

        public override void Status(string text) { }

        public override void Completed(EpochMetrics metrics)
        {
            owner._output.WriteLine(FormatEpoch(metrics, epochs));
            owner._output.Flush();
        }
    }
}

/// <summary>A Spectre.Console progress bar per epoch, with loss, accuracy and images/s in its description.</summary>
public sealed class SpectreTrainingProgress : TrainingProgress
{
    private static readonly long RedrawTicks = Stopwatch.Frequency / 5;
    private readonly IAnsiConsole _console;

    public SpectreTrainingProgress(IAnsiConsole console) => _console = console;

    public override void Message(string text) => _console.MarkupLine(Markup.Escape(text));

    public override void RunEpoch(int epoch, int epochs, int steps, Action<EpochDisplay> work)
    {
        _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape($"epoch {epoch}/{epochs}"), maxValue: Math.Max(steps, 1));
                work(new Display(task, epochs));
                task.Value = task.MaxValue;
                task.StopTask();
            });
    }

    private sealed class Display(ProgressTask task, int epochs) : EpochDisplay
    {
        private long _lastRedraw;

        public override void Step(in StepProgress progress)
        {
            task.Value = progress.Step;
            long now = Stopwatch.GetTimestamp();
            if (now - _lastRedraw < RedrawTicks && progress.Step != progress.Steps) return;
            _lastRedraw = now;
            task.Description = Markup.Escape(FormatStep(progress));
        }

        public override void Status(string text) => task.Description = Markup.Escape(text);

        public override void Completed(EpochMetrics metrics) => task.Description = Markup.Escape(FormatEpoch(metrics, epochs));
    }
}
