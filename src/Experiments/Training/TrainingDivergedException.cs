namespace NativeConv.Experiments.Training;

/// <summary>
/// A training step whose loss is NaN or ±∞. The trainer stops at once without writing a checkpoint, so the last one on
/// disk (from the end of the previous epoch, or an earlier interruption) is the last good state; the message names the
/// model, the epoch and the step, and what to change.
/// </summary>
public sealed class TrainingDivergedException(string model, int epoch, int step, int steps, string loss, Exception? inner = null)
    : Exception($"Training of {model} diverged at epoch {epoch}, step {step}/{steps}: the loss is {loss}. The last good checkpoint " +
                "is kept (nothing was saved after the divergence). Lower the learning rate, or check that the images are finite " +
                "and scaled to [0, 1].", inner)
{
    public string Model { get; } = model;
    public int Epoch { get; } = epoch;
    public int Step { get; } = step;
}
