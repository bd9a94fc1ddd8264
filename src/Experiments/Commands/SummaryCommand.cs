using System.CommandLine;
using NativeConv.Experiments.Reports;
using Spectre.Console;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `summary [--runs DIR] [--out DIR]`: test accuracy against trainable parameters (log x) across every model of every study
/// run under the runs root — a plot (SVG + PNG) and summary.md with the table (see <see cref="RunSummary"/>).
/// </summary>
public static class SummaryCommand
{
    public static Command Create()
    {
        var runs = new Option<string>("--runs") { Description = "The runs root to read (every <folder>/results.json under it)", DefaultValueFactory = _ => "runs" };
        var output = new Option<string?>("--out") { Description = "Where to write accuracy-vs-parameters.svg/.png and summary.md (default: <runs>/summary)" };
        var command = new Command("summary", "Accuracy against parameters (log x) across every model of every study run so far: a plot and a table.") { runs, output };
        command.SetAction(result =>
        {
            string root = result.GetValue(runs)!;
            string folder = result.GetValue(output) ?? Path.Combine(root, "summary");
            var collected = RunSummary.Write(root, folder);
            var console = CommandIo.Console(result);
            var table = new Table { Title = new TableTitle($"{collected.Runs.Count} run(s) under {Path.GetFullPath(root)}") };
            foreach (var header in new[] { "Study", "Model" }) table.AddColumn(header);
            foreach (var header in new[] { "Params", "Test acc", "n" }) table.AddColumn(new TableColumn(header).RightAligned());
            table.AddColumn("Data");
            foreach (var r in collected.Rows)
                table.AddRow(Markup.Escape(r.Study), Markup.Escape(r.Model), Markdown.Count(r.Parameters),
                    r.Accuracies.Count > 1 ? $"{Markdown.Percent(r.Mean)} ± {Markdown.Number(r.Std * 100, 2)}" : Markdown.Percent(r.Mean),
                    r.Accuracies.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    r.Limit is { } limit ? $"limit {limit:N0}" : "full");
            console.Write(table);
            foreach (var (name, why) in collected.Skipped) console.WriteLine($"skipped {name}: {why}");
            console.WriteLine($"Wrote {Path.Combine(folder, RunSummary.PlotFileName)} (and .png) and {Path.Combine(folder, RunSummary.TableFileName)}.");
            return collected.Rows.Count > 0 ? 0 : 1;
        });
        return command;
    }
}
