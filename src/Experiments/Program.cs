namespace NativeConv.Experiments;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("NativeConv experiments: commands arrive with the engine-core work.");
        return 1;
    }
}
