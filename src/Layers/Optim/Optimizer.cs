using NativeConv.Tensors;

namespace NativeConv.Layers.Optim;

/// <summary>
/// Updates parameters from their gradients. A training step is: ZeroGrad → forward → loss.Backward() → Step →
/// Tape.Current.Reset(). State tensors (moments, velocities) are allocated once, on each parameter's backend, when the
/// optimiser is created: create it after moving the model to its device.
/// </summary>
public abstract class Optimizer
{
    private long _stepCount;

    protected Optimizer(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var copy = new Parameter[parameters.Count];
        for (int i = 0; i < copy.Length; i++)
            copy[i] = parameters[i] ?? throw new ArgumentException("Optimizer: the parameter list contains null.");
        Parameters = copy;
    }

    /// <summary>The parameters this optimiser updates, in a fixed order (the order of its <see cref="State"/>).</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Steps taken so far. Settable to resume from a checkpoint (Adam's bias correction depends on it).</summary>
    public long StepCount
    {
        get => _stepCount;
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "Optimizer: the step count cannot be negative.");
            _stepCount = value;
        }
    }

    /// <summary>The learning rate; settable for schedules.</summary>
    public abstract float LearningRate { get; set; }

    /// <summary>
    /// Named state tensors to save in a checkpoint and restore by copying into them (e.g. "conv1.weight.m"). Persistent,
    /// on the parameters' backends, in <see cref="Parameters"/> order.
    /// </summary>
    public abstract IReadOnlyList<(string Name, Tensor Tensor)> State { get; }

    /// <summary>
    /// Applies one update to every parameter that has a gradient (a parameter the loss did not reach is left alone),
    /// then counts the step.
    /// </summary>
    public void Step()
    {
        _stepCount++;
        var ps = Parameters;
        for (int i = 0; i < ps.Count; i++)
        {
            var grad = ps[i].Value.Grad;
            if (grad is not null) Update(i, ps[i].Value, grad);
        }
    }

    /// <summary>Sets every existing gradient to zero in place (no allocation; backward passes accumulate).</summary>
    public void ZeroGrad()
    {
        var ps = Parameters;
        for (int i = 0; i < ps.Count; i++)
        {
            var grad = ps[i].Value.Grad;
            grad?.Backend.Fill(grad, 0f);
        }
    }

    /// <summary>Updates parameter <paramref name="index"/> in place; <see cref="StepCount"/> already counts this step.</summary>
    protected abstract void Update(int index, Tensor parameter, Tensor gradient);

    /// <summary>A zeroed persistent state tensor shaped and placed like the parameter, named for checkpoints.</summary>
    protected static Tensor NewState(Parameter p, string suffix)
    {
        var t = Tensor.Zeros(p.Shape, p.Value.Backend);
        t.Name = p.Name + "." + suffix;
        return t;
    }
}
