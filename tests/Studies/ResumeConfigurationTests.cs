using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;
using NativeConv.Tests.Support;
using Spectre.Console;

namespace NativeConv.Tests.Studies;

/// <summary>
/// A --resume compares the whole configuration that decides the numbers (conv algorithm, fusion, device, threads, data files)
/// and refuses a change unless --force-config-change, which results.json then records with the epoch of the change; and a
/// resumed run's results.json keeps the real training window (its parts), not the resume moment.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class ResumeConfigurationTests() : StudyRunsRoot("nativeconv-resume-config-")
{
    private static readonly IAnsiConsole Quiet =
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null), Interactive = InteractionSupport.No });

    /// <summary>An MLP run cancelled in the middle of epoch 2 (its checkpoint holds epoch 1 and 4 steps of epoch 2).</summary>
    private string Interrupted()
    {
        var settings = new StudySettings { DataDir = Data.RealData.Locator.Root, Threads = 2, Epochs = 2, Limit = 800, Out = Root, Models = ["fmnist-mlp"] };
        using var cancel = new CancellationTokenSource();
        var outcome = new StudyRunner(StudyDefinition.Fmnist, settings, TextWriter.Null, Quiet)
        {
            TrainerCreated = (_, _, trainer) => trainer.StepCompleted += p => { if (p.Epoch == 2 && p.Step == 4) cancel.Cancel(); },
        }.Run(cancel.Token);
        Assert.True(outcome.Interrupted);
        return outcome.Folder;
    }

    private string[] Resume(string folder, string threads, params string[] extra) =>
        ["fmnist", "--data-dir", Data.RealData.Locator.Root, "--out", Root, "--threads", threads, "--no-download",
         "--epochs", "2", "--limit", "800", "--models", "fmnist-mlp", "--resume", folder, .. extra];

    [Theory]
    [InlineData("NATIVECONV_CONV_ALGO", "im2col", "2", "conv_algorithm auto → im2col")]
    [InlineData("NATIVECONV_FUSE", "0", "2", "fuse_conv_relu on → off")]
    [InlineData(null, null, "1", "threads 2 → 1")]
    public void A_changed_configuration_is_refused_in_one_line(string? variable, string? value, string threads, string named)
    {
        string folder = Interrupted();
        var environment = new Dictionary<string, string?>();
        if (variable is not null) environment[variable] = value;
        var (code, output, error) = Cli.RunWithEnvironment(environment, Resume(folder, threads));
        Assert.True(code == 1, error + output);
        Assert.Contains(named, error);
        Assert.Contains("--force-config-change", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(folder, StudyArtifacts.ResultsFileName)));
    }

    [Fact]
    public void Forced_it_continues_and_results_json_records_both_configurations_and_the_epoch()
    {
        string folder = Interrupted();
        var (code, output, error) = Cli.RunWithEnvironment(new Dictionary<string, string?> { ["NATIVECONV_CONV_ALGO"] = "im2col" },
            Resume(folder, "2", "--force-config-change"));
        Assert.True(code == 0, error + output);
        using var results = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, StudyArtifacts.ResultsFileName)));
        var change = results.RootElement.GetProperty("extra").GetProperty("configuration_changes").EnumerateArray().Single();
        var difference = change.GetProperty("changes").EnumerateArray().Single();
        Assert.Equal("conv_algorithm", difference.GetProperty("key").GetString());
        Assert.Equal("auto", difference.GetProperty("before").GetString());
        Assert.Equal("im2col", difference.GetProperty("after").GetString());
        var unit = change.GetProperty("units").EnumerateArray().Single();
        Assert.Equal("fmnist-mlp", unit.GetProperty("unit").GetString());
        Assert.Equal(2, unit.GetProperty("epoch").GetInt32());
        Assert.Equal(4, unit.GetProperty("step").GetInt32());

        // study.json took the new configuration: resuming again with it needs no flag.
        Assert.Contains("\"conv_algorithm\": \"im2col\"", File.ReadAllText(Path.Combine(folder, StudyFolder.SettingsFileName)));
    }

    [Fact]
    public void A_resumed_run_keeps_its_first_start_and_lists_its_parts()
    {
        var before = DateTimeOffset.Now;
        string folder = Interrupted();
        Thread.Sleep(50); // a gap between the parts that the window must show
        var resumedAt = DateTimeOffset.Now;
        var (code, output, error) = Cli.Run(Resume(folder, "2"));
        Assert.True(code == 0, error + output);
        var results = ResultsJson.Read(Path.Combine(folder, StudyArtifacts.ResultsFileName));
        var parts = results.Parts!;
        Assert.Equal(2, parts.Count);
        Assert.InRange(parts[0].Started, before, parts[0].Finished);
        Assert.True(parts[0].Finished < resumedAt, $"{parts[0].Finished:O} !< {resumedAt:O}");
        Assert.InRange(parts[1].Started, resumedAt, parts[1].Finished);
        Assert.Equal(parts[0].Started, results.Started); // the first start, not the resume moment
        Assert.Equal(parts[1].Finished, results.Finished);
        // Each part says which build ran it, and both ended cleanly (a cancel stamps its end).
        Assert.All(parts, p => Assert.Equal(GitInfo.Commit(), p.Commit));
        Assert.All(parts, p => Assert.False(p.Interrupted));
    }

    [Fact]
    public void A_part_is_marked_interrupted_until_its_end_is_stamped_and_moves_along_meanwhile()
    {
        using var folder = StudyFolder.Create("parts-study", Root, [("seed", "42")]);
        string file = folder.BeginPart(shard: null, commit: "abc");
        var begun = folder.ReadParts().Single();
        Assert.Equal((begun.Started, true, "abc"), (begun.Finished, begun.Interrupted!.Value, begun.Commit!));

        Thread.Sleep(20);
        folder.TouchPart(file); // what each finished epoch does: a killed process leaves how far it got
        var touched = folder.ReadParts().Single();
        Assert.True(touched.Finished > begun.Finished);
        Assert.True(touched.Interrupted);

        folder.EndPart(file);
        var ended = folder.ReadParts().Single();
        Assert.False(ended.Interrupted);
        Assert.Equal("abc", ended.Commit);
    }

    [Fact]
    public void A_part_file_deleted_or_damaged_mid_run_is_written_again_by_the_next_stamp()
    {
        using var folder = StudyFolder.Create("parts-study", Root, [("seed", "42")]);
        string file = folder.BeginPart(shard: "2/3", commit: "abc");
        var begun = folder.ReadParts().Single();

        File.Delete(file);
        folder.TryTouchPart(file); // an epoch ends: the record is back, still interrupted
        var touched = folder.ReadParts().Single();
        Assert.Equal((begun.Started, "2/3", "abc", true), (touched.Started, touched.Shard, touched.Commit, touched.Interrupted!.Value));

        File.WriteAllText(file, "{ not json");
        folder.EndPart(file); // the study ends: no FileNotFound or damaged-file error, the part is stamped whole
        var ended = folder.ReadParts().Single();
        Assert.Equal((begun.Started, "2/3", "abc", false), (ended.Started, ended.Shard, ended.Commit, ended.Interrupted!.Value));

        // A part this folder did not begin is still read from its file: a damaged one is named with its remedy.
        using var other = StudyFolder.ReadOnly(folder.Path);
        File.WriteAllText(file, "{ not json");
        var ex = Assert.Throws<StudyResumeException>(() => other.EndPart(file));
        Assert.Contains(file, ex.Message);
    }

    [Fact]
    public void The_report_names_each_part_and_its_commit_when_builds_differ_or_a_part_was_killed()
    {
        var start = new DateTimeOffset(2026, 12, 7, 13, 39, 0, TimeSpan.Zero);
        var results = new StudyResults { Study = "shift-study", GitCommit = "new", Machine = MachineInfo.Collect() };
        results.Parts =
        [
            new RunPart(start, start.AddHours(2.5), Commit: "old") { Interrupted = true },
            new RunPart(start.AddHours(3), start.AddHours(3.1), Commit: "new") { Interrupted = false },
        ];
        string line = StudyReport.RunProvenance(results);
        Assert.Contains("Run in 2 parts: 2026-12-07 13:39 – 16:09 (commit `old`, end not stamped (killed", line);
        Assert.Contains("2026-12-07 16:39 – 16:45 (commit `new`); report written by commit `new`", line);

        // One build, clean parts (a Ctrl-C and a resume): the one window and commit, as for a single part.
        results.Parts = [results.Parts[0] with { Commit = "new", Interrupted = false }, results.Parts[1]];
        results.Started = start;
        results.Finished = start.AddHours(3.1);
        Assert.Equal("Run 2026-12-07 13:39 – 16:45, commit `new`", StudyReport.RunProvenance(results));

        // Every part ran one build, another wrote the report (a merge, or a resume that only tested): both named.
        results.Parts = [.. results.Parts.Select(p => p with { Commit = "old" })];
        Assert.Equal("Run 2026-12-07 13:39 – 16:45, commit `old`; report written by commit `new`", StudyReport.RunProvenance(results));

        // A part file from before parts were stamped (no commit, no mark) of a killed process: its end equals its start.
        var old = System.Text.Json.JsonSerializer.Deserialize<RunPart>(
            """{"started": "2026-12-07T13:39:00+00:00", "finished": "2026-12-07T13:39:00+00:00", "shard": null}""", ResultsJson.SerializerOptions)!;
        Assert.Null(old.Commit);
        Assert.Null(old.Interrupted);
        results.Parts = [old, results.Parts[1] with { Commit = "new" }];
        Assert.Contains("2026-12-07 13:39 – 13:39 (commit not recorded, end not recorded)", StudyReport.RunProvenance(results));
    }
}
