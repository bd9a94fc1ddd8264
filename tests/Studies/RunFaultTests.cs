using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;
using NativeConv.Tests.Data;

namespace NativeConv.Tests.Studies;

/// <summary>
/// The faults a cluster deals a study run, each against its guard: SIGTERM (preemption) then resume, a run folder locked
/// by a live process and released by a killed one, atomic folder claims, leftovers of killed writes, damaged JSON files.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class RunFaultTests() : NativeConv.Tests.Support.StudyRunsRoot("nativeconv-faults-")
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args) => NativeConv.Tests.Support.Cli.Run(args);

    private string MlpStudy(string folderName) => Path.Combine(Root, folderName);

    private static string[] MlpArgs(string output, params string[] extra) => MlpArgs(output, 3, extra);

    private static string[] MlpArgs(string output, int epochs, params string[] extra) =>
        ["fmnist", "--data-dir", RealData.Locator.Root, "--out", output, "--threads", "2", "--no-download",
         "--models", "fmnist-mlp", "--epochs", epochs.ToString(System.Globalization.CultureInfo.InvariantCulture), "--limit", "2000", .. extra];

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigTerm = 15;

    [Fact]
    public async Task Sigterm_during_an_epoch_saves_exits_143_and_the_resumed_run_equals_an_uninterrupted_one()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("SIGTERM is a POSIX signal.");
        string reference = MlpStudy("reference"), preempted = MlpStudy("preempted");
        var (code, output, error) = Run(MlpArgs(reference));
        Assert.True(code == 0, error + output);

        // The real program as its own process; SIGTERM once its first checkpoint exists (in epoch 2, after epoch 1's save).
        using var process = StartProgram(MlpArgs(preempted));
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        string? checkpoint = null;
        while (checkpoint is null && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            await Task.Delay(20);
            checkpoint = Directory.Exists(preempted)
                ? Directory.EnumerateFiles(preempted, StudyFolder.CheckpointFileName, SearchOption.AllDirectories).FirstOrDefault()
                : null;
        }
        if (checkpoint is null)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            Assert.Fail("no checkpoint appeared: " + await stdout + await stderr);
        }
        Assert.Equal(0, kill(process.Id, SigTerm));
        using (var wait = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
            await process.WaitForExitAsync(wait.Token);
        string printed = await stdout, errors = await stderr;
        Assert.True(process.ExitCode == 143, $"exit {process.ExitCode}: {printed}{errors}");
        Assert.Contains("SIGTERM", errors);
        Assert.Contains("Interrupted while training fmnist-mlp; the checkpoint is saved", printed); // stopped by the trainer, not killed
        string folder = Directory.GetDirectories(preempted).Single();
        Assert.False(File.Exists(Path.Combine(folder, "results.json")));

        (code, output, error) = Run(MlpArgs(preempted, "--resume", folder));
        Assert.True(code == 0, error + output);
        Assert.Contains("Resumed from", output);
        var expected = ResultsJson.Read(Path.Combine(Directory.GetDirectories(reference).Single(), "results.json")).Models.Single();
        var actual = ResultsJson.Read(Path.Combine(folder, "results.json")).Models.Single();
        Assert.Equal(expected.Test!.Loss, actual.Test!.Loss);
        Assert.Equal(expected.Test.Accuracy, actual.Test.Accuracy);
        Assert.Equal(expected.Training!.History.Select(e => (e.TrainLoss, e.ValidationLoss)), actual.Training!.History.Select(e => (e.TrainLoss, e.ValidationLoss)));
    }

    [Fact]
    public void A_live_run_folder_is_refused_with_its_holder_and_released_when_the_holder_is_killed()
    {
        string folder = RunDirectory.Create("fmnist", Root);
        File.WriteAllText(Path.Combine(folder, StudyFolder.SettingsFileName), """{"study": "fmnist"}""");

        // Held by this process: a second opener (a --resume, another shard) is told who holds it.
        using (RunLock.Acquire(folder))
        {
            var ex = Assert.Throws<RunLockedException>(() => StudyFolder.Open("fmnist", Root, folder));
            Assert.Contains($"PID {Environment.ProcessId}", ex.Message);
            Assert.Contains(Environment.MachineName, ex.Message);
            var (code, _, error) = Run("fmnist", "--data-dir", RealData.Locator.Root, "--out", Root, "--no-download", "--resume", folder);
            Assert.Equal(1, code);
            Assert.Contains("is in use by", error);
            Assert.DoesNotContain("   at ", error);
        }
        using (StudyFolder.Open("fmnist", Root, folder)) { } // released: open again, then release

        // Held by another process that is then killed with SIGKILL: the kernel drops the lock, nothing stale remains.
        if (!File.Exists("/usr/bin/flock")) Assert.Skip("util-linux flock(1) is not installed.");
        using var holder = Process.Start(new ProcessStartInfo("/usr/bin/flock", ["-x", Path.Combine(folder, RunLock.FileName), "sleep", "60"]))!;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try { using (RunLock.Acquire(folder)) { } Thread.Sleep(20); }
            catch (RunLockedException) { break; }
        }
        Assert.Contains("another process", Assert.Throws<RunLockedException>(() => RunLock.Acquire(folder)).Message);
        holder.Kill(entireProcessTree: true); // SIGKILL
        holder.WaitForExit();
        // flock's child (sleep) shares the locked descriptor; WaitForExit waits only for flock, so allow the child a moment to die.
        for (clock.Restart(); ; Thread.Sleep(20))
        {
            try { using (RunLock.Acquire(folder)) { } break; }
            catch (RunLockedException) when (clock.Elapsed < TimeSpan.FromSeconds(10)) { }
        }
    }

    [Fact]
    public void New_run_folders_are_claimed_atomically_and_never_shared()
    {
        var now = new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);
        // Sixteen claims of the same second at once: sixteen different folders, each claimed by exactly one.
        var folders = new string[16];
        Parallel.For(0, folders.Length, i => folders[i] = RunDirectory.Create("race", Root, now));
        Assert.Equal(folders.Length, folders.Distinct().Count());
        // A folder that already exists (made before locks, or by hand) is never taken over.
        string taken = Path.Combine(Root, "old-20261207-100000");
        Directory.CreateDirectory(taken);
        Assert.NotEqual(Path.GetFullPath(taken), Path.GetFullPath(RunDirectory.Create("old", Root, now)));
    }

    [Fact]
    public void Leftovers_of_killed_writes_are_removed_when_the_folder_is_next_opened()
    {
        string folder = RunDirectory.Create("fmnist", Root);
        File.WriteAllText(Path.Combine(folder, StudyFolder.SettingsFileName), """{"study": "fmnist"}""");
        string models = Path.Combine(folder, "models", "fmnist-mlp-seed42");
        Directory.CreateDirectory(models);
        string leftover = Path.Combine(models, ".checkpoint.safetensors.tmp-4242-0123456789abcdef");
        string keep = Path.Combine(models, "notes.tmp-not-ours");
        File.WriteAllText(leftover, "half a checkpoint");
        File.WriteAllText(keep, "x");
        // A unit a live shard holds keeps its temporaries (its writer may be mid-write).
        string busy = Path.Combine(folder, "models", "fmnist-mlp-seed43");
        Directory.CreateDirectory(busy);
        string inFlight = Path.Combine(busy, ".checkpoint.safetensors.tmp-4343-0123456789abcdef");
        File.WriteAllText(inFlight, "being written");
        using (RunLock.Acquire(busy))
        using (StudyFolder.Open("fmnist", Root, folder))
        {
            Assert.False(File.Exists(leftover));
            Assert.True(File.Exists(keep));
            Assert.True(File.Exists(inFlight));
        }
    }

    [Theory]
    [InlineData("study.json", "{\"study\": \"fmnist\", \"epochs\": ")]
    [InlineData("study.json", "null")]
    [InlineData("result.json", "{\"name\": \"fmnist-mlp\", \"test\": {")]
    [InlineData("result.json", "[1, 2, 3]")]
    [InlineData("result.json", "{\"format\": \"nativeconv-result\", \"sha256\": 7, \"result\": {}}")]
    public void A_damaged_json_file_in_a_run_folder_is_a_one_line_error_naming_it(string file, string content)
    {
        string output = MlpStudy("damaged");
        var (code, stdout, error) = Run(MlpArgs(output, 1));
        Assert.True(code == 0, error + stdout);
        string folder = Directory.GetDirectories(output).Single();
        string path = file == "study.json"
            ? Path.Combine(folder, file)
            : Path.Combine(folder, "models", "fmnist-mlp-seed42", file);
        File.WriteAllText(path, content);

        (code, _, error) = Run(MlpArgs(output, 1, "--resume", folder));
        Assert.Equal(1, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(path, lines[0]);
        Assert.Contains("is damaged", lines[0]);
    }

    [Fact]
    public void A_changed_byte_in_a_finished_models_result_is_refused_on_resume()
    {
        string output = MlpStudy("changed");
        var (code, stdout, error) = Run(MlpArgs(output, 1));
        Assert.True(code == 0, error + stdout);
        string folder = Directory.GetDirectories(output).Single();
        string path = Path.Combine(folder, "models", "fmnist-mlp-seed42", StudyFolder.ResultFileName);
        string text = File.ReadAllText(path);
        Assert.Contains("\"sha256\"", text);

        // Resuming the untouched run reuses the result; one digit changed inside it is refused by name.
        (code, stdout, error) = Run(MlpArgs(output, 1, "--resume", folder));
        Assert.True(code == 0, error + stdout);
        Assert.Contains("already finished", stdout);
        int at = text.IndexOf("\"accuracy\": 0.", StringComparison.Ordinal) + "\"accuracy\": 0.".Length;
        Assert.True(at > 20, text);
        char digit = text[at];
        File.WriteAllText(path, text[..at] + (digit == '9' ? '8' : (char)(digit + 1)) + text[(at + 1)..]);
        (code, _, error) = Run(MlpArgs(output, 1, "--resume", folder));
        Assert.Equal(1, code);
        Assert.Contains(path, error);
        Assert.Contains("does not match its SHA-256", error);
    }

    private static Process StartProgram(string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "NativeConv.Experiments.dll");
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }
}
