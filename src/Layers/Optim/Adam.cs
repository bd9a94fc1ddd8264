using NativeConv.Tensors;
using NativeConv.Tensors.Backends;

namespace NativeConv.Layers.Optim;

/// <summary>
/// Adam with the Keras defaults and formula (see <see cref="AdamStep"/>): one fused backend.AdamUpdate per parameter per step.
/// State: the first and second moments "NAME.m" and "NAME.v".
/// </summary>
public sealed class Adam : Optimizer
{
    private readonly Tensor[] _m, _v;
    private readonly (string Name, Tensor Tensor)[] _state;

    public Adam(IReadOnlyList<Parameter> parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f)
        : base(parameters)
    {
        if (!(lr > 0f)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "Adam: the learning rate must be positive.");
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "Adam: beta1 must be in [0, 1).");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "Adam: beta2 must be in [0, 1).");
        if (!(epsilon > 0f)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Adam: epsilon must be positive.");
        LearningRate = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        int n = Parameters.Count;
        _m = new Tensor[n];
        _v = new Tensor[n];
        _state = new (string, Tensor)[2 * n];
        for (int i = 0; i < n; i++)
        {
            _m[i] = NewState(Parameters[i], "m");
            _v[i] = NewState(Parameters[i], "v");
            _state[2 * i] = (_m[i].Name!, _m[i]);
            _state[2 * i + 1] = (_v[i].Name!, _v[i]);
        }
    }

    public override float LearningRate { get; set; }
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }

    public override IReadOnlyList<(string Name, Tensor Tensor)> State => _state;

    protected override void Update(int index, Tensor parameter, Tensor gradient)
    {
        var step = new AdamStep(LearningRate, Beta1, Beta2, Epsilon, StepCount);
        parameter.Backend.AdamUpdate(parameter, gradient, _m[index], _v[index], in step);
    }
}
