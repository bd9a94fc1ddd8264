using NativeConv.Layers.Init;
using NativeConv.Tensors;

namespace NativeConv.Layers;

/// <summary>
/// The models of the Fashion-MNIST and CIFAR-10 studies, rebuilt layer for layer (every convolution 3×3 or 5×5 "same" with
/// ReLU, every hidden Dense with ReLU, the last Dense producing logits). Parameter counts match the Keras originals exactly.
/// </summary>
public static class ModelZoo
{
    /// <summary>Classes of both datasets.</summary>
    public const int Classes = 10;

    private sealed record Entry(string Name, string Description, int Channels, int Height, int Width, Func<int, Module> Build);

    private static readonly Entry[] s_entries =
    [
        new("fmnist-mlp", "Fashion-MNIST baseline MLP: Flatten, Dense 128, Dense 64, Dense 10", 1, 28, 28,
            _ => Mlp(784, 128, 64)),
        new("fmnist-cnn", "Fashion-MNIST CNN: two 3×3 conv blocks (16, 32 filters) with 2×2 max pooling, Dense 128, Dense 10", 1, 28, 28,
            _ => FashionCnn(3)),
        new("fmnist-cnn-k5", "Fashion-MNIST CNN with 5×5 kernels (kernel-size study), otherwise as fmnist-cnn", 1, 28, 28,
            _ => FashionCnn(5)),
        new("cifar-dense", "CIFAR-10 dense baseline: Flatten, Dense 512, Dense 256, Dense 10", 3, 32, 32,
            _ => Mlp(3 * 32 * 32, 512, 256)),
        new("cifar-small", "CIFAR-10 CNN (8, 16): 2×conv 8, pool, 2×conv 16, pool, conv 32, GAP, Dense 128, Dropout 0.3, Dense 10", 3, 32, 32,
            seed => CifarCnn(8, 16, seed)),
        new("cifar-medium", "CIFAR-10 CNN (16, 32): 2×conv 16, pool, 2×conv 32, pool, conv 64, GAP, Dense 128, Dropout 0.3, Dense 10", 3, 32, 32,
            seed => CifarCnn(16, 32, seed)),
        new("cifar-big", "CIFAR-10 CNN (32, 64): 2×conv 32, pool, 2×conv 64, pool, conv 128, GAP, Dense 128, Dropout 0.3, Dense 10", 3, 32, 32,
            seed => CifarCnn(32, 64, seed)),
        new("cifar-extra-big", "CIFAR-10 CNN (64, 128): 2×conv 64, pool, 2×conv 128, pool, conv 256, GAP, Dense 128, Dropout 0.3, Dense 10", 3, 32, 32,
            seed => CifarCnn(64, 128, seed)),
    ];

    private static readonly string[] s_names = Array.ConvertAll(s_entries, e => e.Name);

    /// <summary>Every model name, in study order.</summary>
    public static IReadOnlyList<string> Names => s_names;

    public static bool Contains(string name) => Find(name) is not null;

    /// <summary>
    /// A new model on the default backend, its weights drawn from <paramref name="seed"/> (Glorot uniform, zero biases) and
    /// its dropout masks seeded from it too: the same seed gives the same model bit for bit.
    /// </summary>
    public static Module Create(string name, int seed)
    {
        var entry = Get(name);
        var model = entry.Build(seed);
        model.Name = entry.Name;
        model.Initialize(seed);
        return model;
    }

    /// <summary>The input of one sample, (C, H, W).</summary>
    public static Shape InputShape(string name)
    {
        var e = Get(name);
        return new Shape(e.Channels, e.Height, e.Width);
    }

    /// <summary>The input of a batch, (N, C, H, W).</summary>
    public static Shape BatchInputShape(string name, int batch)
    {
        var e = Get(name);
        return new Shape(batch, e.Channels, e.Height, e.Width);
    }

    /// <summary>One line saying what the model is.</summary>
    public static string Description(string name) => Get(name).Description;

    /// <summary>"unknown model 'x'; valid names: ..." — the message every command shows for a bad --model.</summary>
    public static string UnknownModelMessage(string name) =>
        $"Unknown model '{name}'. Valid names: {string.Join(", ", s_names)}.";

    // ---------------------------------------------------------------- architectures

    private static Sequential Mlp(int inputs, int hidden1, int hidden2) => new(
        new Flatten(),
        new Dense(inputs, hidden1), new ReLU(),
        new Dense(hidden1, hidden2), new ReLU(),
        new Dense(hidden2, Classes));

    // 28×28 → pool → 14×14 → pool → 7×7, so the Dense sees 32·7·7 = 1568 features.
    private static Sequential FashionCnn(int kernel) => new(
        new Conv2D(1, 16, kernel), new ReLU(), new MaxPool2D(2),
        new Conv2D(16, 32, kernel), new ReLU(), new MaxPool2D(2),
        new Flatten(),
        new Dense(32 * 7 * 7, 128), new ReLU(),
        new Dense(128, Classes));

    private static Sequential CifarCnn(int f1, int f2, int seed) => new(
        new Conv2D(3, f1, 3), new ReLU(),
        new Conv2D(f1, f1, 3), new ReLU(),
        new MaxPool2D(2),
        new Conv2D(f1, f2, 3), new ReLU(),
        new Conv2D(f2, f2, 3), new ReLU(),
        new MaxPool2D(2),
        new Conv2D(f2, 2 * f2, 3), new ReLU(),
        new GlobalAvgPool2D(),
        new Dense(2 * f2, 128), new ReLU(),
        new Dropout(0.3f, SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash("dropout"))),
        new Dense(128, Classes));

    private static Entry? Find(string name)
    {
        foreach (var e in s_entries)
            if (string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)) return e;
        return null;
    }

    private static Entry Get(string name) =>
        Find(name ?? throw new ArgumentNullException(nameof(name))) ?? throw new ArgumentException(UnknownModelMessage(name), nameof(name));
}
