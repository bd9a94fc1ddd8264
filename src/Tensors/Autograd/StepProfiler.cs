using System.Diagnostics;

namespace NativeConv.Tensors.Autograd;

/// <summary>
/// Where a training step's time goes, op by op: attach to <see cref="Tape.Profiler"/>, call <see cref="BeginStep"/> before
/// each forward pass and <see cref="Mark"/> after phases that record nothing (the optimiser), then read <see cref="Entries"/>.
///
/// No op is touched: the forward time of the i-th recorded node is the time since the previous recorded node (or since
/// <see cref="BeginStep"/>), so it includes the module plumbing between ops; the backward time is measured around the
/// node's own backward. Before every clock reading the backend is synchronised, so GPU kernels are charged to the op that
/// queued them (which also removes the overlap a GPU would otherwise have: profile, then time without the profiler).
/// Steps must record the same ops in the same order; entries are matched by position.
/// </summary>
public sealed class StepProfiler
{
    private readonly List<Entry> _entries = new(64);
    private readonly Dictionary<string, Entry> _marks = new();
    private readonly List<Entry> _markOrder = new();
    private long _lastTimestamp;
    private int _forwardIndex;

    /// <summary>Steps begun so far.</summary>
    public int Steps { get; private set; }

    /// <summary>One row per recorded op position, in forward order.</summary>
    public IReadOnlyList<Entry> Entries => _entries;

    /// <summary>The named phases (see <see cref="Mark"/>), in first-seen order.</summary>
    public IReadOnlyList<Entry> Phases => _markOrder;

    /// <summary>Starts a step's clock (call right before the forward pass).</summary>
    public void BeginStep(Tensors.Backends.IBackend backend)
    {
        backend.Synchronize();
        Steps++;
        _forwardIndex = 0;
        _lastTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>Charges the time since the previous clock reading to the phase <paramref name="name"/> (e.g. "optimizer").</summary>
    public void Mark(string name, Tensors.Backends.IBackend backend)
    {
        backend.Synchronize();
        Charge(name, Stopwatch.GetTimestamp());
    }

    /// <summary>Sum of everything measured: every interval since <see cref="BeginStep"/> is charged to an op or a phase.</summary>
    public double TotalMilliseconds()
    {
        long ticks = 0;
        foreach (var e in _entries) ticks += e.ForwardTicks + e.BackwardTicks;
        foreach (var e in _markOrder) ticks += e.ForwardTicks;
        return Steps == 0 ? 0 : 1000.0 * ticks / Stopwatch.Frequency / Steps;
    }

    private void Charge(string phase, long now)
    {
        if (!_marks.TryGetValue(phase, out var entry))
        {
            entry = new Entry(phase, default);
            _marks.Add(phase, entry);
            _markOrder.Add(entry);
        }
        entry.ForwardTicks += now - _lastTimestamp;
        entry.Count++;
        _lastTimestamp = now;
    }

    internal void OnRecorded(TapeNode node)
    {
        node.Output.Backend.Synchronize();
        long now = Stopwatch.GetTimestamp();
        EntryAt(_forwardIndex++, node).ForwardTicks += now - _lastTimestamp;
        _lastTimestamp = now;
    }

    internal long BeforeBackward(TapeNode node)
    {
        node.Output.Backend.Synchronize();
        long now = Stopwatch.GetTimestamp();
        Charge(AutogradPhase, now); // the root gradient's fill, gradient tensors created between nodes
        return now;
    }

    /// <summary>The phase that collects the time between backward nodes (gradient zero-fills, the loss seed).</summary>
    public const string AutogradPhase = "autograd bookkeeping";

    internal void AfterBackward(int index, TapeNode node, long started)
    {
        node.Output.Backend.Synchronize();
        long now = Stopwatch.GetTimestamp();
        var entry = EntryAt(index, node);
        entry.BackwardTicks += now - started;
        entry.Count++;
        _lastTimestamp = now;
    }

    private Entry EntryAt(int index, TapeNode node)
    {
        if (index < _entries.Count)
        {
            var existing = _entries[index];
            if (existing.Op != OpName(node) || existing.Output != node.Output.Shape)
                throw new InvalidOperationException($"StepProfiler: op #{index} was {existing.Op} {existing.Output} in an earlier step and is {OpName(node)} {node.Output.Shape} now; profile steps that record the same ops (same model, same batch size).");
            return existing;
        }
        var entry = new Entry(OpName(node), node.Output.Shape);
        _entries.Add(entry);
        return entry;
    }

    private static string OpName(TapeNode node)
    {
        string name = node.GetType().Name;
        return name.EndsWith("Node", StringComparison.Ordinal) ? name[..^4] : name;
    }

    /// <summary>Accumulated time of one op position (or one named phase), over all profiled steps.</summary>
    public sealed class Entry(string op, Shape output)
    {
        public string Op { get; } = op;
        public Shape Output { get; } = output;
        public long ForwardTicks { get; internal set; }
        public long BackwardTicks { get; internal set; }
        /// <summary>Backward passes (for ops) or marks (for phases) counted.</summary>
        public int Count { get; internal set; }

        public double ForwardMilliseconds(int steps) => Milliseconds(ForwardTicks, steps);
        public double BackwardMilliseconds(int steps) => Milliseconds(BackwardTicks, steps);

        private static double Milliseconds(long ticks, int steps) =>
            steps == 0 ? 0 : 1000.0 * ticks / Stopwatch.Frequency / steps;
    }
}
