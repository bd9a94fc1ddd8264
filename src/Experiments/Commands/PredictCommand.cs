using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NativeConv.Experiments.Serving;
using Spectre.Console;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `predict --checkpoint PATH [--model NAME] [--top K] [--batch N] [--json] IMAGE...`: classifies PNG/JPEG/BMP images with
/// a trained model (see <see cref="ImageInput"/> for how an image becomes the model's input). A directory argument stands
/// for every .png/.jpg/.jpeg/.bmp file directly in it (sorted by name); images are decoded and classified in batches, with a
/// progress bar on the error stream when it is a terminal. The result is a table of the top K classes per image (or one
/// JSON document). An image that cannot be read is reported by name on the error stream and the others are still
/// classified; the exit code is then 1.
/// </summary>
public static class PredictCommand
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp"];

    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint.safetensors written by a study (or a weights file)", Required = true };
        var model = new Option<string?>("--model") { Description = "Refuse a checkpoint of any other model" };
        var top = new Option<int>("--top") { Description = "Classes shown per image", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "Images decoded and classified together", DefaultValueFactory = _ => 64 };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of a table" };
        var images = new Argument<string[]>("images") { Description = "Image files (PNG, JPEG, BMP) or directories of them", Arity = ArgumentArity.OneOrMore };
        top.Validators.Add(r =>
        {
            int k = r.GetValueOrDefault<int>();
            if (k < 1 || k > 10) r.AddError($"--top must be between 1 and 10; got {k}.");
        });
        batch.Validators.Add(r =>
        {
            int b = r.GetValueOrDefault<int>();
            if (b < 1 || b > 4096) r.AddError($"--batch must be between 1 and 4096; got {b}.");
        });
        var command = new Command("predict", "Classify images with a trained model: top classes with probabilities.") { checkpoint, model, top, batch, json, images };
        command.SetAction(result =>
        {
            var trained = TrainedModel.Open(result.GetValue(checkpoint)!, result.GetValue(model));
            var error = CommandIo.Error(result);
            var (files, missing) = Expand(result.GetValue(images)!);
            var outcome = Classify(trained, files, result.GetValue(batch), Math.Min(result.GetValue(top), trained.ClassCount),
                showProgress: files.Count > 1 && result.GetValue(images)!.Any(Directory.Exists), error);
            outcome.Errors.InsertRange(0, missing);
            if (result.GetValue(json)) WriteJson(CommandIo.Out(result), trained, outcome);
            else WriteTable(CommandIo.Console(result), trained, outcome);
            foreach (var (_, message) in outcome.Errors) error.WriteLine($"error: {message}");
            return outcome.Errors.Count == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>One classified image: its name, what decoding found, and the top classes (index, probability), best first.</summary>
    public sealed record Prediction(string Image, DecodedImage Decoded, (int Index, float Probability)[] Top);

    /// <summary>The classified images in argument order, and the names that failed with their one-line messages.</summary>
    public sealed record Outcome(List<Prediction> Predictions, List<(string Image, string Message)> Errors);

    /// <summary>The files the arguments name: files as given, directories expanded to their image files; arguments that are neither are errors.</summary>
    internal static (List<string> Files, List<(string, string)> Missing) Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        var missing = new List<(string, string)>();
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                var found = Directory.EnumerateFiles(argument)
                    .Where(f => ImageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) missing.Add((argument, $"Directory '{argument}': no {string.Join("/", ImageExtensions)} files in it."));
                files.AddRange(found);
            }
            else if (File.Exists(argument))
            {
                files.Add(argument);
            }
            else
            {
                missing.Add((argument, $"Image '{argument}': no such file or directory."));
            }
        }
        return (files, missing);
    }

    /// <summary>Decodes and classifies <paramref name="files"/> in batches of <paramref name="batchSize"/>; an undecodable file is an error entry, not an exception.</summary>
    public static Outcome Classify(TrainedModel trained, IReadOnlyList<string> files, int batchSize, int top, bool showProgress, TextWriter progressWriter)
    {
        var outcome = new Outcome(new List<Prediction>(files.Count), new List<(string, string)>());
        var options = ImageInputOptions.For(trained);
        var pixels = new float[batchSize * options.SampleSize];
        var probabilities = new float[batchSize * trained.ClassCount];
        var names = new List<(string Name, DecodedImage Decoded)>(batchSize);

        void Run(Action<int> advance)
        {
            for (int start = 0; start < files.Count; start += batchSize)
            {
                int end = Math.Min(files.Count, start + batchSize);
                names.Clear();
                for (int i = start; i < end; i++)
                {
                    try
                    {
                        var target = pixels.AsSpan(names.Count * options.SampleSize, options.SampleSize);
                        byte[] bytes = ReadFile(files[i]);
                        names.Add((files[i], ImageInput.Decode(bytes, files[i], options, target)));
                    }
                    catch (ImageDecodeException e)
                    {
                        outcome.Errors.Add((files[i], e.Message));
                    }
                }
                int n = names.Count;
                trained.Classify(pixels.AsSpan(0, n * options.SampleSize), n, probabilities.AsSpan(0, n * trained.ClassCount));
                for (int k = 0; k < n; k++)
                    outcome.Predictions.Add(new Prediction(names[k].Name, names[k].Decoded,
                        TopClasses(probabilities.AsSpan(k * trained.ClassCount, trained.ClassCount), top)));
                advance(end - start);
            }
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(progressWriter) });
        if (showProgress && console.Profile.Capabilities.Interactive)
        {
            console.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask($"classifying {files.Count:N0} images", maxValue: Math.Max(files.Count, 1));
                    Run(count => task.Increment(count));
                    task.Value = task.MaxValue;
                });
        }
        else
        {
            Run(_ => { });
        }
        return outcome;
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot be read ({e.Message}).", e);
        }
    }

    /// <summary>The <paramref name="count"/> largest probabilities with their class indices, largest first (lower index first on ties).</summary>
    public static (int Index, float Probability)[] TopClasses(ReadOnlySpan<float> probabilities, int count)
    {
        var all = new (int Index, float Probability)[probabilities.Length];
        for (int i = 0; i < all.Length; i++) all[i] = (i, probabilities[i]);
        Array.Sort(all, static (a, b) => a.Probability != b.Probability ? b.Probability.CompareTo(a.Probability) : a.Index.CompareTo(b.Index));
        return all[..Math.Min(count, all.Length)];
    }

    private static void WriteTable(IAnsiConsole console, TrainedModel trained, Outcome outcome)
    {
        string accuracy = trained.TestAccuracy is { } a ? $", test accuracy {a.ToString("P2", CultureInfo.InvariantCulture)}" : "";
        console.WriteLine($"{trained.Name} ({trained.Dataset}, {trained.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters{accuracy})");
        if (outcome.Predictions.Count == 0) return;
        // Images of one folder (a directory argument) are listed by file name under the folder's name, so the table stays narrow.
        var folders = outcome.Predictions.Select(p => Path.GetDirectoryName(p.Image) ?? "").Distinct().ToList();
        bool oneFolder = folders.Count == 1 && folders[0].Length > 0;
        if (oneFolder) console.WriteLine($"images in {folders[0]}:");
        var table = new Table().Border(TableBorder.Simple).AddColumn("Image").AddColumn("Size");
        int top = outcome.Predictions[0].Top.Length;
        for (int k = 1; k <= top; k++) table.AddColumn($"#{k}").AddColumn(new TableColumn("p").RightAligned());
        foreach (var p in outcome.Predictions)
        {
            var cells = new List<string>
            {
                Markup.Escape(oneFolder ? Path.GetFileName(p.Image) : p.Image),
                $"{p.Decoded.SourceWidth}×{p.Decoded.SourceHeight} {p.Decoded.Format}{(p.Decoded.Inverted ? ", inverted" : "")}",
            };
            foreach (var (index, probability) in p.Top)
            {
                cells.Add(Markup.Escape(trained.ClassNames[index]));
                cells.Add(probability.ToString("P1", CultureInfo.InvariantCulture));
            }
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
    }

    private static void WriteJson(TextWriter output, TrainedModel trained, Outcome outcome)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("model", trained.Name);
            json.WriteString("dataset", trained.Dataset);
            json.WriteString("checkpoint", trained.CheckpointPath);
            json.WriteStartArray("results");
            foreach (var p in outcome.Predictions)
            {
                json.WriteStartObject();
                json.WriteString("image", p.Image);
                json.WriteString("format", p.Decoded.Format);
                json.WriteNumber("width", p.Decoded.SourceWidth);
                json.WriteNumber("height", p.Decoded.SourceHeight);
                json.WriteBoolean("inverted", p.Decoded.Inverted);
                json.WriteStartArray("predictions");
                foreach (var (index, probability) in p.Top)
                {
                    json.WriteStartObject();
                    json.WriteNumber("index", index);
                    json.WriteString("label", trained.ClassNames[index]);
                    json.WriteNumber("probability", probability);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("errors");
            foreach (var (image, message) in outcome.Errors)
            {
                json.WriteStartObject();
                json.WriteString("image", image);
                json.WriteString("error", message);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
