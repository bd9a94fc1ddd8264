namespace NativeConv.Experiments.Training;

/// <summary>
/// Turns the first Ctrl-C into a cancellation request: the trainer finishes the current step, saves a checkpoint and returns
/// (so the run can be resumed); a second Ctrl-C ends the process at once. Dispose to restore the default behaviour.
/// <code>
/// using var interrupt = ConsoleInterrupt.Install(Console.Error);
/// var result = trainer.Fit(train, validation, interrupt.Token);
/// </code>
/// </summary>
public sealed class ConsoleInterrupt : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter? _notice;
    private int _presses;

    private ConsoleInterrupt(TextWriter? notice)
    {
        _notice = notice;
        Console.CancelKeyPress += OnCancelKeyPress;
    }

    /// <summary>Starts listening for Ctrl-C; <paramref name="notice"/> (if given) gets a line saying what will happen.</summary>
    public static ConsoleInterrupt Install(TextWriter? notice = null) => new(notice);

    /// <summary>Cancelled at the first Ctrl-C.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>True once Ctrl-C was pressed.</summary>
    public bool Interrupted => _source.IsCancellationRequested;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (Interlocked.Increment(ref _presses) == 1)
        {
            e.Cancel = true; // keep the process alive: the trainer stops after this step and saves
            _notice?.WriteLine("Interrupted: stopping after the current step and saving a checkpoint (press Ctrl-C again to abort at once).");
            _source.Cancel();
        }
        // A second press: leave e.Cancel false, so the runtime ends the process.
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _source.Dispose();
    }
}
