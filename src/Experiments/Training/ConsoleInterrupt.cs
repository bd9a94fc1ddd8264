using System.Runtime.InteropServices;

namespace NativeConv.Experiments.Training;

/// <summary>
/// Turns the first Ctrl-C (SIGINT) or SIGTERM into a cancellation request: the trainer finishes the current step, saves a
/// checkpoint and returns, so the run can be resumed; a second signal ends the process at once. SIGTERM is what Slurm,
/// Kubernetes and `timeout` send before they kill a job, so a preempted run is handled exactly like a Ctrl-C; the command
/// then exits with <see cref="ExitCode"/> (130 after Ctrl-C, 143 after SIGTERM: "stopped, resume me"). Dispose to restore
/// the default behaviour.
/// <code>
/// using var interrupt = ConsoleInterrupt.Install(Console.Error);
/// var result = trainer.Fit(train, validation, interrupt.Token);
/// </code>
/// </summary>
public sealed class ConsoleInterrupt : IDisposable
{
    /// <summary>Exit code after Ctrl-C (128 + SIGINT), as shells report it.</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>Exit code after SIGTERM (128 + SIGTERM): the run was preempted and its checkpoint saved; resume it.</summary>
    public const int TerminatedExitCode = 143;

    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter? _notice;
    private readonly PosixSignalRegistration? _terminate;
    private int _signals;
    private int _exitCode = InterruptedExitCode;

    private ConsoleInterrupt(TextWriter? notice)
    {
        _notice = notice;
        Console.CancelKeyPress += OnCancelKeyPress;
        try
        {
            _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerminate);
        }
        catch (PlatformNotSupportedException)
        {
            _terminate = null; // no SIGTERM here (Windows services get Ctrl-C-like events instead)
        }
    }

    /// <summary>Starts listening for Ctrl-C and SIGTERM; <paramref name="notice"/> (if given) gets a line saying what will happen.</summary>
    public static ConsoleInterrupt Install(TextWriter? notice = null) => new(notice);

    /// <summary>Cancelled at the first Ctrl-C or SIGTERM.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>True once Ctrl-C was pressed or SIGTERM received.</summary>
    public bool Interrupted => _source.IsCancellationRequested;

    /// <summary>The exit code for a run this stopped: 130 after Ctrl-C, 143 after SIGTERM.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        // The first signal keeps the process alive (the trainer stops after this step and saves); a second one does not.
        e.Cancel = First(InterruptedExitCode,
            "Interrupted: stopping after the current step and saving a checkpoint (press Ctrl-C again to abort at once).");
    }

    private void OnTerminate(PosixSignalContext context) =>
        context.Cancel = First(TerminatedExitCode,
            $"Terminated (SIGTERM): stopping after the current step and saving a checkpoint; exit code {TerminatedExitCode} means the run can be resumed with --resume.");

    private bool First(int exitCode, string notice)
    {
        if (Interlocked.Increment(ref _signals) != 1) return false;
        Volatile.Write(ref _exitCode, exitCode);
        _notice?.WriteLine(notice);
        _source.Cancel();
        return true;
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _terminate?.Dispose();
        _source.Dispose();
    }
}
