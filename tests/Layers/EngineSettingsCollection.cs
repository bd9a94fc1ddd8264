namespace NativeConv.Tests.Layers;

/// <summary>
/// Tests that set process-wide engine settings (Engine.Threads) or measure allocation run in this collection, alone:
/// xunit runs it after the parallel collections, so no other test changes the thread count or allocates underneath them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineSettingsCollection
{
    public const string Name = "Engine settings (runs alone)";
}
