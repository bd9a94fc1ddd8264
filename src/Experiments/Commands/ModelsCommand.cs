using System.CommandLine;
using System.Globalization;
using NativeConv.Layers;
using Spectre.Console;

namespace NativeConv.Experiments.Commands;

/// <summary>`models [--name NAME]`: every study model (or one) as a Keras-style summary table with its parameter total.</summary>
public static class ModelsCommand
{
    public static Command Create()
    {
        var name = new Option<string?>("--name") { Description = $"Show only this model ({string.Join(", ", ModelZoo.Names)})" };
        var command = new Command("models", "List the study models: layers, output shapes, parameter counts.") { name };
        command.SetAction(result =>
        {
            string? only = result.GetValue(name);
            if (only is not null && !ModelZoo.Contains(only))
            {
                CommandIo.Error(result).WriteLine(ModelZoo.UnknownModelMessage(only));
                return 2;
            }
            var console = CommandIo.Console(result);
            foreach (var model in ModelZoo.Names)
            {
                if (only is null || string.Equals(only, model, StringComparison.OrdinalIgnoreCase))
                    Render(console, model);
            }
            return 0;
        });
        return command;
    }

    private static void Render(IAnsiConsole console, string modelName)
    {
        var model = ModelZoo.Create(modelName, seed: 0);
        var input = ModelZoo.BatchInputShape(modelName, 1);
        var table = new Table().Border(TableBorder.Simple)
            .Title($"Model: \"{Markup.Escape(modelName)}\"  input {Markup.Escape(ModelZoo.InputShape(modelName).ToString())}")
            .AddColumn("Layer")
            .AddColumn("Type")
            .AddColumn("Output shape")
            .AddColumn(new TableColumn("Param #").RightAligned());
        foreach (var row in ModelSummary.Rows(model, input))
            table.AddRow(Markup.Escape(row.Name), row.Type, Markup.Escape(row.FormatShape()), row.Parameters.ToString("N0", CultureInfo.InvariantCulture));
        console.Write(table);
        console.WriteLine(ModelZoo.Description(modelName));
        console.WriteLine($"Total params: {model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)}");
        console.WriteLine();
    }
}
