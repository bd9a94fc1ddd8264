"""PyTorch peer for bench/ConvBenchmarks.cs: the same layers, batch, threads and float32, timed the same way.

    /usr/bin/python3 bench/peers/conv_peer.py [threads]

Forward = F.conv2d(x, w, b) with autograd recording (as in training); forward+backward = the same plus the gradients training needs (dW, dBias always, dx except
for a model's first layer), through autograd with a fixed upstream gradient. Prints median and best of 20 timed runs after
warm-up, in ms, and GFLOP/s from the median (forward FLOPs = 2·N·OC·OH·OW·C·KH·KW; backward counts dW + dx).
"""
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(1)
BATCH = 128
LAYERS = [("fmnist1", 1, 16, 28), ("fmnist2", 16, 32, 14), ("cifar1", 3, 32, 32), ("cifar2", 32, 32, 32),
          ("cifar3", 32, 64, 16), ("cifar4", 64, 64, 16), ("cifar5", 64, 128, 8)]


def timed(fn, reps=20):
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:  # warm-up: oneDNN primitive creation, caches
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0]


print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}")
for name, c, oc, size in LAYERS:
    x = torch.rand(BATCH, c, size, size) * 2 - 1
    w = (torch.rand(oc, c, 3, 3) * 2 - 1).requires_grad_()
    b = (torch.rand(oc) * 2 - 1).requires_grad_()
    first = c <= 3
    x.requires_grad_(not first)
    dy = torch.rand(BATCH, oc, size, size) * 2 - 1
    gflop = 2.0 * BATCH * oc * size * size * c * 9 / 1e9

    def forward():
        # With autograd on, as in training: under torch.no_grad() torch 1.13 takes a much slower path for some of
        # these layers (e.g. 16->32 @14: 32 ms instead of 1 ms), which would flatter us.
        F.conv2d(x, w, b, padding=1)

    def forward_backward():
        w.grad = b.grad = x.grad = None
        F.conv2d(x, w, b, padding=1).backward(dy)

    fmed, fmin = timed(forward)
    fbmed, fbmin = timed(forward_backward)
    total = gflop * (2 if first else 3)
    print(f"{name:8s} {c:3d}->{oc:3d} @{size:2d}: forward {fmed:7.2f} ms (best {fmin:7.2f}) {gflop / fmed * 1e3:6.1f} GFLOP/s"
          f" | fwd+bwd {fbmed:7.2f} ms (best {fbmin:7.2f}) {total / fbmed * 1e3:6.1f} GFLOP/s, {BATCH / fbmed * 1e3:8.0f} images/s")
