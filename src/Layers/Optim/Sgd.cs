using NativeConv.Tensors;

namespace NativeConv.Layers.Optim;

/// <summary>
/// Stochastic gradient descent with (heavy-ball) momentum, Keras form: velocity ← momentum·velocity − lr·g; p ← p + velocity.
/// State: "NAME.velocity".
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor[] _velocity;
    private readonly (string Name, Tensor Tensor)[] _state;

    public Sgd(IReadOnlyList<Parameter> parameters, float lr = 1e-2f, float momentum = 0f) : base(parameters)
    {
        if (!(lr > 0f)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "Sgd: the learning rate must be positive.");
        if (!(momentum >= 0f && momentum < 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Sgd: momentum must be in [0, 1).");
        LearningRate = lr;
        Momentum = momentum;
        _velocity = new Tensor[Parameters.Count];
        _state = new (string, Tensor)[Parameters.Count];
        for (int i = 0; i < _velocity.Length; i++)
        {
            _velocity[i] = NewState(Parameters[i], "velocity");
            _state[i] = (_velocity[i].Name!, _velocity[i]);
        }
    }

    public override float LearningRate { get; set; }
    public float Momentum { get; }

    public override IReadOnlyList<(string Name, Tensor Tensor)> State => _state;

    protected override void Update(int index, Tensor parameter, Tensor gradient) =>
        parameter.Backend.SgdUpdate(parameter, gradient, _velocity[index], LearningRate, Momentum);
}
