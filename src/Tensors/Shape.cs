using System.Runtime.CompilerServices;

namespace NativeConv.Tensors;

/// <summary>
/// The dimensions of a tensor, rank 0..4, stored inline so a shape never allocates.
/// Images are NCHW: (batch, channels, height, width); matrices are (rows, columns).
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    public const int MaxRank = 4;

    private readonly int _d0, _d1, _d2, _d3;

    public int Rank { get; }

    public Shape(int d0) : this(1, d0, 0, 0, 0) { }
    public Shape(int d0, int d1) : this(2, d0, d1, 0, 0) { }
    public Shape(int d0, int d1, int d2) : this(3, d0, d1, d2, 0) { }
    public Shape(int d0, int d1, int d2, int d3) : this(4, d0, d1, d2, d3) { }

    private Shape(int rank, int d0, int d1, int d2, int d3)
    {
        Rank = rank;
        _d0 = d0; _d1 = d1; _d2 = d2; _d3 = d3;
        long size = 1;
        for (int i = 0; i < rank; i++)
        {
            int d = this[i];
            if (d < 0)
                throw new ArgumentException($"Shape {this}: dimension {i} is negative ({d}); every dimension must be >= 0.");
            size *= d;
            if (size > int.MaxValue)
                throw new ArgumentException($"Shape {this} has more than {int.MaxValue} elements; split the batch.");
        }
    }

    /// <summary>Builds a shape from a span of 0..4 dimensions.</summary>
    public static Shape Of(ReadOnlySpan<int> dims) => dims.Length switch
    {
        0 => new Shape(0, 0, 0, 0, 0),
        1 => new Shape(dims[0]),
        2 => new Shape(dims[0], dims[1]),
        3 => new Shape(dims[0], dims[1], dims[2]),
        4 => new Shape(dims[0], dims[1], dims[2], dims[3]),
        _ => throw new ArgumentException($"Tensors have at most {MaxRank} dimensions; got {dims.Length}."),
    };

    public static Shape Scalar => new(0, 0, 0, 0, 0);

    public int this[int axis]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)axis >= (uint)Rank)
                throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is out of range for shape {this} (rank {Rank}).");
            return axis switch { 0 => _d0, 1 => _d1, 2 => _d2, _ => _d3 };
        }
    }

    /// <summary>Number of elements (1 for a scalar).</summary>
    public int Size
    {
        get
        {
            int size = 1;
            for (int i = 0; i < Rank; i++) size *= this[i];
            return size;
        }
    }

    /// <summary>Product of all dimensions after the first: the row length of a (N, ...) tensor seen as a matrix.</summary>
    public int SizeFrom(int axis)
    {
        int size = 1;
        for (int i = axis; i < Rank; i++) size *= this[i];
        return size;
    }

    public bool Equals(Shape other) =>
        Rank == other.Rank && _d0 == other._d0 && _d1 == other._d1 && _d2 == other._d2 && _d3 == other._d3;

    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode() => HashCode.Combine(Rank, _d0, _d1, _d2, _d3);
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    public override string ToString() => Rank switch
    {
        0 => "()",
        1 => $"({_d0})",
        2 => $"({_d0}, {_d1})",
        3 => $"({_d0}, {_d1}, {_d2})",
        _ => $"({_d0}, {_d1}, {_d2}, {_d3})",
    };
}
