using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The width dispatchers of the convolution and pool kernel families: each width reaches the vector struct of its own lane
/// count, and an unresolved width is refused instead of silently running some other code.
/// </summary>
public class VectorDispatchTests
{
    private struct ConvLanes : IConvVectorStep, IConvVectorItems
    {
        public int Count, Item;
        public void Run<TVec>() where TVec : struct, IConvVector<TVec> => Count = TVec.Count;
        public void Run<TVec>(int item) where TVec : struct, IConvVector<TVec> => (Count, Item) = (TVec.Count, item);
    }

    private struct PoolLanes : IPoolVectorStep
    {
        public int Count;
        public void Run<TVec>() where TVec : struct, IPoolVector<TVec> => Count = TVec.Count;
    }

    [Theory]
    [MemberData(nameof(VectorWidths.All), MemberType = typeof(VectorWidths))]
    public void Conv_width_reaches_the_struct_of_its_lane_count(VectorWidth width)
    {
        var step = new ConvLanes();
        ConvVectors.Run(width, ref step);
        Assert.Equal(ConvVectors.Lanes(width), step.Count);

        var items = new ConvLanes();
        ConvVectors.Run(width, ref items, 7);
        Assert.Equal((ConvVectors.Lanes(width), 7), (items.Count, items.Item));
    }

    [Theory]
    [MemberData(nameof(VectorWidths.All), MemberType = typeof(VectorWidths))]
    public void Pool_width_reaches_the_struct_of_its_lane_count(VectorWidth width)
    {
        var step = new PoolLanes();
        PoolVectors.Run(width, ref step);
        Assert.Equal(ConvVectors.Lanes(width), step.Count);
    }

    [Fact]
    public void Unresolved_width_is_refused()
    {
        var step = new ConvLanes();
        Assert.Throws<ArgumentException>(() => ConvVectors.Run(VectorWidth.Auto, ref step));
        Assert.Throws<ArgumentException>(() => ConvVectors.Run(VectorWidth.Auto, ref step, 0));
        var pool = new PoolLanes();
        Assert.Throws<ArgumentException>(() => PoolVectors.Run(VectorWidth.Auto, ref pool));
    }
}
