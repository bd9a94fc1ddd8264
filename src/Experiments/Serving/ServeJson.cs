using System.Text.Json;

namespace NativeConv.Experiments.Serving;

/// <summary>One class of a prediction: its output index, its label and its probability.</summary>
public sealed record Prediction(int Index, string Label, float Probability);

/// <summary>POST /v1/predict's answer: the classes by probability, descending; Ms is the server's time for the request.</summary>
public sealed record PredictResponse(string Model, IReadOnlyList<Prediction> Predictions, double Ms);

/// <summary>Every error's body: one line saying what was wrong.</summary>
public sealed record ErrorResponse(string Error);

/// <summary>The batching settings, as GET /v1/model reports them.</summary>
public sealed record BatchingResponse(int MaxBatch, double MaxWaitMs, long Forwards, long Classified, long Dropped);

/// <summary>GET /v1/model's answer.</summary>
public sealed record ModelResponse(
    string Model, string Dataset, IReadOnlyList<int> Input, IReadOnlyList<string> Classes, long Parameters,
    double? TestAccuracy, IReadOnlyList<ServedLayer> Layers, string Preprocessing, BatchingResponse Batching);

/// <summary>GET /healthz's answer.</summary>
public sealed record HealthResponse(string Status);

/// <summary>The JSON conventions of the server's answers (snake_case names, as the rest of the program's JSON).</summary>
public static class ServeJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Messages quote names ('request body'): keep them readable rather than \u0027 (the bodies are JSON, never HTML).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // A model that produced NaN still gets an answer ("NaN"), not a serialiser exception.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// The classes of one sample's probabilities, most probable first (ties: lower index first), the first
    /// <paramref name="top"/> of them.
    /// </summary>
    public static Prediction[] Rank(ReadOnlySpan<float> probabilities, IReadOnlyList<string> labels, int top)
    {
        var order = new int[probabilities.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = probabilities.ToArray();
        // A stable descending order: sort by (−p, index). NaN (a broken model) sorts last instead of breaking the order.
        Array.Sort(order, (a, b) =>
        {
            float pa = keys[a], pb = keys[b];
            bool na = float.IsNaN(pa), nb = float.IsNaN(pb);
            if (na != nb) return na ? 1 : -1;
            int byProbability = na ? 0 : pb.CompareTo(pa);
            return byProbability != 0 ? byProbability : a.CompareTo(b);
        });
        var result = new Prediction[Math.Min(top, order.Length)];
        for (int i = 0; i < result.Length; i++) result[i] = new Prediction(order[i], labels[order[i]], keys[order[i]]);
        return result;
    }
}
