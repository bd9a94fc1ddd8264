using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

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
    /// The study this display's epochs belong to (set by the study runner; null for a lone training run): the displays
    /// show which unit trains (model k of n, seed s of K) and an ETA for the whole study beside the epoch's own.
    /// </summary>
    public StudyClock? Study { get; set; }

    /// <summary>The share of the current unit done at a step: (epoch − 1 + step / steps) / epochs, epochs being the maximum.</summary>
    internal static double UnitFraction(int epoch, int epochs, int step, int steps) =>
        epochs <= 0 ? 0 : Math.Clamp((epoch - 1 + (steps > 0 ? (double)step / steps : 0)) / epochs, 0, 1);

    /// <summary>"12:05", "1:02:03" or "—" (unknown).</summary>
    public static string FormatClock(TimeSpan? time)
    {
        if (time is not { } t || t < TimeSpan.Zero || t.TotalDays > 99) return "—";
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    /// <summary>"fmnist-cnn · model 2/2 · seed 43 (1/3) · study 37% · ETA 12:05" for the unit in progress.</summary>
    internal static IReadOnlyList<string> StudyParts(StudyClock clock, double unitFraction)
    {
        var estimate = clock.Estimate(unitFraction);
        if (clock.Current is not { } unit) return [];
        return
        [
            string.Create(CultureInfo.InvariantCulture, $"study {estimate.Fraction * 100:F0}%"),
            $"ETA {FormatClock(estimate.Remaining)}",
            string.Create(CultureInfo.InvariantCulture, $"model {unit.ModelNumber}/{unit.ModelCount}"),
            string.Create(CultureInfo.InvariantCulture, $"seed {unit.Seed} ({unit.SeedNumber}/{unit.SeedCount})"),
            unit.Model,
        ];
    }

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

    public override void RunEpoch(int epoch, int epochs, int steps, Action<EpochDisplay> work)
    {
        if (Study is { } clock && clock.Current is not null)
        {
            // The study's position and ETA once per epoch; the clock learns where this unit starts from (a resumed unit midway).
            var parts = StudyParts(clock, UnitFraction(epoch, epochs, 0, steps));
            _output.WriteLine($"{parts[4]}: {parts[2]}, {parts[3]}; {parts[0]} done, {parts[1]} (at most {epochs} epochs a model)");
        }
        work(new Display(this, epochs));
    }

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

/// <summary>
/// A live Spectre.Console display per epoch, laid out for the console's width (80 columns and up): the study's unit and ETA
/// (<see cref="TrainingProgress.Study"/>), the epoch's bar with its percentage, elapsed and remaining time, and the running
/// loss, accuracy and images/s. Every line is cut to fit, so nothing wraps or collapses in a narrow terminal. When the
/// epoch ends the live lines are cleared and its summary line (<see cref="TrainingProgress.FormatEpoch"/>) stays.
/// </summary>
public sealed class SpectreTrainingProgress : TrainingProgress
{
    private static readonly long RedrawTicks = Stopwatch.Frequency / 5;
    private readonly IAnsiConsole _console;

    public SpectreTrainingProgress(IAnsiConsole console) => _console = console;

    public override void Message(string text) => _console.MarkupLine(Markup.Escape(text));

    public override void RunEpoch(int epoch, int epochs, int steps, Action<EpochDisplay> work)
    {
        var view = new EpochView(epoch, epochs, steps, Stopwatch.GetTimestamp());
        // The clock learns where this unit starts (a resumed unit begins midway).
        if (Study is { Current: not null } clock) clock.Estimate(UnitFraction(epoch, epochs, 0, steps));
        EpochMetrics? finished = null;
        _console.Live(Render(view))
            .AutoClear(true)
            .Overflow(VerticalOverflow.Visible)
            .Start(context =>
            {
                var display = new Display(this, view, context);
                work(display);
                display.Redraw();
                finished = display.Metrics;
            });
        // The live lines go; the epoch's summary stays, wrapped to the width (one line from 116 columns, two at 80).
        if (finished is not null)
            foreach (var line in Wrap(FormatEpoch(finished, epochs), Math.Max(20, _console.Profile.Width - 1)))
                _console.MarkupLine(Markup.Escape(line));
    }

    /// <summary>What the display shows of one epoch; updated by its <see cref="Display"/>.</summary>
    internal sealed class EpochView(int epoch, int epochs, int steps, long started)
    {
        public int Epoch { get; } = epoch;
        public int Epochs { get; } = epochs;
        public int Steps { get; } = steps;
        public long Started { get; } = started;
        public int Step { get; set; }
        public string Numbers { get; set; } = "";
        public bool Done { get; set; }
    }

    private IRenderable Render(EpochView view)
    {
        var lines = Lines(view, _console.Profile.Width, _console.Profile.Capabilities.Unicode, Study, Stopwatch.GetElapsedTime(view.Started));
        return new Rows(lines.Select(l => new Markup(l)));
    }

    /// <summary>
    /// The display's lines as markup for a console <paramref name="width"/> columns wide: the study line (when there is a
    /// study), the epoch bar, and the numbers (word-wrapped). No line's text is longer than width − 1.
    /// </summary>
    internal static IReadOnlyList<string> Lines(EpochView view, int width, bool unicode, StudyClock? study, TimeSpan elapsed)
    {
        int room = Math.Max(20, width - 1);
        var lines = new List<string>(4);
        double fraction = view.Done ? 1 : view.Steps > 0 ? Math.Clamp((double)view.Step / view.Steps, 0, 1) : 0;
        if (study is { Current: not null })
        {
            // Most important first: dropped from the end when the line would not fit.
            var parts = StudyParts(study, UnitFraction(view.Epoch, view.Epochs, view.Done ? view.Steps : view.Step, view.Steps));
            string line = parts[0];
            foreach (var part in parts.Skip(1))
                if (line.Length + 3 + part.Length <= room) line += " · " + part;
            lines.Add(Markup.Escape(line));
        }

        string left = string.Create(CultureInfo.InvariantCulture, $"epoch {view.Epoch}/{view.Epochs} ");
        TimeSpan? remaining = fraction > 0 && !view.Done ? elapsed * ((1 - fraction) / fraction) : view.Done ? TimeSpan.Zero : null;
        string right = string.Create(CultureInfo.InvariantCulture, $" {fraction * 100,3:F0}% {FormatClock(elapsed)} < {FormatClock(remaining)}");
        int bar = room - left.Length - right.Length;
        if (bar < 10)
        {
            right = string.Create(CultureInfo.InvariantCulture, $" {fraction * 100,3:F0}%");
            bar = Math.Max(5, room - left.Length - right.Length);
        }
        int filled = (int)Math.Round(bar * fraction);
        char done = unicode ? '█' : '#', todo = unicode ? '░' : '-';
        lines.Add(Markup.Escape(left) + $"[green]{new string(done, filled)}[/][grey]{new string(todo, bar - filled)}[/]" + Markup.Escape(right));

        foreach (var line in Wrap(view.Numbers, room)) lines.Add(Markup.Escape(line));
        return lines;
    }

    /// <summary>Splits <paramref name="text"/> at its double spaces (between fields) into lines of at most <paramref name="width"/>.</summary>
    internal static IEnumerable<string> Wrap(string text, int width)
    {
        if (string.IsNullOrEmpty(text)) yield break;
        string line = "";
        foreach (var field in text.Split("  ", StringSplitOptions.RemoveEmptyEntries))
        {
            string piece = field.Length > width ? field[..width] : field;
            if (line.Length == 0) line = piece;
            else if (line.Length + 2 + piece.Length <= width) line += "  " + piece;
            else { yield return line; line = piece; }
        }
        if (line.Length > 0) yield return line;
    }

    private sealed class Display(SpectreTrainingProgress owner, EpochView view, LiveDisplayContext context) : EpochDisplay
    {
        private long _lastRedraw;

        public void Redraw()
        {
            context.UpdateTarget(owner.Render(view));
            context.Refresh();
        }

        public override void Step(in StepProgress progress)
        {
            view.Step = progress.Step;
            long now = Stopwatch.GetTimestamp();
            if (now - _lastRedraw < RedrawTicks && progress.Step != progress.Steps) return;
            _lastRedraw = now;
            view.Numbers = string.Create(CultureInfo.InvariantCulture,
                $"step {progress.Step}/{progress.Steps}  loss {progress.Loss:F4}  acc {progress.Accuracy * 100:F2}%  {progress.ImagesPerSecond:F0} img/s");
            Redraw();
        }

        public override void Status(string text)
        {
            view.Numbers = text;
            Redraw();
        }

        /// <summary>The epoch's final numbers, once <see cref="Completed"/> was called.</summary>
        public EpochMetrics? Metrics { get; private set; }

        public override void Completed(EpochMetrics metrics)
        {
            Metrics = metrics;
            view.Done = true;
            view.Numbers = FormatEpoch(metrics, view.Epochs)[(FormatEpoch(metrics, view.Epochs).IndexOf("  ", StringComparison.Ordinal) + 2)..];
            Redraw();
        }
    }
}

/// <summary>One model × seed of a study, as the study clock counts it.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="ModelNumber">1-based position of the model in the study's (or --models') list.</param>
/// <param name="ModelCount">Models in the run.</param>
/// <param name="Seed">The seed.</param>
/// <param name="SeedNumber">1-based position of the seed.</param>
/// <param name="SeedCount">Seeds a model (--seeds).</param>
/// <param name="Cost">Relative cost of training the unit (multiply-adds per image of the model; any positive measure).</param>
public readonly record struct ClockUnit(string Model, int ModelNumber, int ModelCount, int Seed, int SeedNumber, int SeedCount, double Cost);

/// <summary>How far a study is: the share of its work done (0…1) and the estimated time left (null: not yet known).</summary>
public readonly record struct StudyEstimate(double Fraction, TimeSpan? Remaining);

/// <summary>
/// The clock of a whole study run: the units this process trains (model × seed, in order) with their relative costs. The
/// work done is counted in cost × share of a unit's maximum epochs, so the ETA — the work left at the rate this process
/// has worked so far — assumes every unit runs all its epochs (early stopping only shortens it) and weighs a big CNN's
/// epoch more than a small one's.
/// </summary>
public sealed class StudyClock
{
    private readonly IReadOnlyList<ClockUnit> _units;
    private readonly Func<double> _seconds;
    private readonly double _total;
    private double _finished;     // cost of the units ended, whole
    private double _doneHere;     // cost worked off by this process in ended units
    private double? _started;
    private int _current = -1;
    private double? _unitStart;   // the current unit's share done when this process began it

    /// <param name="units">The units this process will train, in order.</param>
    /// <param name="seconds">A clock in seconds (tests give their own); default: a monotonic stopwatch.</param>
    public StudyClock(IReadOnlyList<ClockUnit> units, Func<double>? seconds = null)
    {
        _units = units;
        foreach (var unit in units)
            if (!(unit.Cost > 0)) throw new ArgumentException($"Study clock: unit {unit.Model} seed {unit.Seed} has cost {unit.Cost}; costs must be positive.", nameof(units));
        _total = units.Sum(u => u.Cost);
        long origin = Stopwatch.GetTimestamp();
        _seconds = seconds ?? (() => Stopwatch.GetElapsedTime(origin).TotalSeconds);
    }

    public IReadOnlyList<ClockUnit> Units => _units;

    /// <summary>
    /// A unit's relative cost: the multiply-adds of one image's forward pass (a layer's parameters times its output
    /// positions — H·W for a convolution, 1 for a dense layer — plus one per output of a layer without parameters). A
    /// training step's backward is about twice its forward for every layer alike, so the ratio between models holds.
    /// </summary>
    public static double CostOf(NativeConv.Layers.Module model, NativeConv.Tensors.Shape batchOfOne)
    {
        double cost = 0;
        foreach (var row in NativeConv.Layers.ModelSummary.Rows(model, batchOfOne))
        {
            var shape = row.OutputShape;
            long positions = shape.Rank == 4 ? (long)shape[2] * shape[3] : 1;
            cost += row.Parameters > 0 ? (double)row.Parameters * positions : shape.Size;
        }
        return Math.Max(cost, 1);
    }

    /// <summary>The unit being trained, or null between units.</summary>
    public ClockUnit? Current => _current >= 0 ? _units[_current] : null;

    /// <summary>Unit <paramref name="index"/> (of <see cref="Units"/>) starts; the study's clock starts with the first one.</summary>
    public void Begin(int index)
    {
        if ((uint)index >= (uint)_units.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The study clock has {_units.Count} units.");
        _started ??= _seconds();
        _current = index;
        _unitStart = null;
    }

    /// <summary>The current unit ended (its remaining epochs, if it stopped early, count as done).</summary>
    public void End()
    {
        if (_current < 0) return;
        var unit = _units[_current];
        _finished += unit.Cost;
        _doneHere += unit.Cost * (1 - (_unitStart ?? 0));
        _current = -1;
        _unitStart = null;
    }

    /// <summary>The estimate with the current unit <paramref name="unitFraction"/> (0…1) done.</summary>
    public StudyEstimate Estimate(double unitFraction)
    {
        double current = 0, here = _doneHere;
        if (_current >= 0)
        {
            double cost = _units[_current].Cost;
            _unitStart ??= unitFraction;
            current = cost * unitFraction;
            here += cost * Math.Max(0, unitFraction - _unitStart.Value);
        }
        double fraction = _total > 0 ? Math.Clamp((_finished + current) / _total, 0, 1) : 1;
        double elapsed = _started is { } s ? _seconds() - s : 0;
        TimeSpan? remaining = null;
        if (fraction >= 1) remaining = TimeSpan.Zero;
        else if (here > 0 && elapsed > 0)
            remaining = TimeSpan.FromSeconds(Math.Min((_total - _finished - current) * elapsed / here, TimeSpan.MaxValue.TotalSeconds / 2));
        return new StudyEstimate(fraction, remaining);
    }
}
