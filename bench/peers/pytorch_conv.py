#!/usr/bin/env python3
"""PyTorch/cuDNN peer for CpuVsGpuBenchmarks: Conv2D forward and forward+backward for the same layer shapes and batches,
plus torch.mm SGEMM at 1024/2048/4096 (the cuBLAS reference), all float32 with TF32 OFF (our kernels are plain FP32 FMA).

Usage on the GPU machine (see docs/perf/gpu.md):
    python3 bench/peers/pytorch_conv.py [--device cuda] [--batches 32 128 512] [--iters 50]
Times with CUDA events after warm-up; prints one markdown table row per case (ms and GFLOP/s).
On a machine without CUDA it runs on the CPU with wall-clock timing (a smoke test, not a GPU number).
"""
import argparse
import time

import torch
import torch.nn.functional as F

# The same list as CpuVsGpuBenchmarks.StudyLayers: (name, in channels, out channels, image side); 3x3, 'same', stride 1.
LAYERS = [
    ("fmnist-cnn/conv1", 1, 16, 28), ("fmnist-cnn/conv2", 16, 32, 14),
    ("cifar-big/conv1", 3, 32, 32), ("cifar-big/conv2", 32, 32, 32), ("cifar-big/conv3", 32, 64, 16),
    ("cifar-big/conv4", 64, 64, 16), ("cifar-big/conv5", 64, 128, 8),
    ("cifar-extra-big/conv1", 3, 64, 32), ("cifar-extra-big/conv2", 64, 64, 32), ("cifar-extra-big/conv3", 64, 128, 16),
    ("cifar-extra-big/conv4", 128, 128, 16), ("cifar-extra-big/conv5", 128, 256, 8),
]


def timer(device, fn, warmup, iters):
    """Mean milliseconds of fn() over iters runs, after warmup runs (CUDA events on a GPU, perf_counter on the CPU)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / iters
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) * 1000 / iters


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--gemm", type=int, nargs="*", default=[1024, 2048, 4096])
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()

    # FP32 everywhere: no TF32 tensor-core shortcuts in cuDNN or cuBLAS (they would round inputs to 10-bit mantissas).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # let cuDNN pick its fastest algorithm per shape, as a tuned peer would
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"# PyTorch {torch.__version__}, device {device} ({name}), cudnn {torch.backends.cudnn.version()}, "
          f"tf32 conv={torch.backends.cudnn.allow_tf32} matmul={torch.backends.cuda.matmul.allow_tf32}")
    print("| layer | batch | pass | ms | GFLOP/s |")
    print("|---|---:|---|---:|---:|")
    gen = torch.Generator(device="cpu").manual_seed(1)
    for layer, c, oc, size in LAYERS:
        for batch in args.batches:
            x = torch.rand(batch, c, size, size, generator=gen).mul_(2).sub_(1).to(device)
            w = torch.rand(oc, c, 3, 3, generator=gen).mul_(2).sub_(1).to(device).requires_grad_()
            b = torch.rand(oc, generator=gen).to(device).requires_grad_()
            dy = torch.rand(batch, oc, size, size, generator=gen).to(device)
            x.requires_grad_(c > 3)  # the first layers need no dx, as in training and in our benchmark
            flops = 2.0 * batch * oc * size * size * c * 9

            def forward():
                with torch.no_grad():
                    F.conv2d(x, w, b, padding=1)

            def forward_backward():
                y = F.conv2d(x, w, b, padding=1)
                y.backward(dy)

            for label, fn, work in (("forward", forward, flops), ("forward+backward", forward_backward, 3 * flops if c > 3 else 2 * flops)):
                ms = timer(device, fn, args.warmup, args.iters)
                print(f"| {layer} {c}->{oc}@{size} | {batch} | {label} | {ms:.3f} | {work / ms / 1e6:.0f} |", flush=True)

    print()
    print("| sgemm n | ms | GFLOP/s |")
    print("|---:|---:|---:|")
    for n in args.gemm:
        a = torch.rand(n, n, generator=gen).to(device)
        bm = torch.rand(n, n, generator=gen).to(device)
        out = torch.empty(n, n, device=device)
        ms = timer(device, lambda: torch.mm(a, bm, out=out), args.warmup, args.iters if device.type == "cuda" else 3)
        print(f"| {n} | {ms:.3f} | {2.0 * n ** 3 / ms / 1e6:.0f} |", flush=True)


if __name__ == "__main__":
    main()
