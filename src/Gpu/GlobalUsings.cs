// Every kernel reads and writes flat, dense float32 device memory: one alias keeps signatures short.
global using FloatView = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
