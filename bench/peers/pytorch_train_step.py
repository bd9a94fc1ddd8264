#!/usr/bin/env python3
"""PyTorch peer for `throughput`: the same study models, full training steps (forward, backward, Adam) on random data.

Usage (Debian: apt-get install python3-torch):
    /usr/bin/python3 bench/peers/pytorch_train_step.py --model cifar-big --batch 128 --threads 2 --steps 30
Prints one line `images/s: <number>` like `dotnet run --project src/Experiments -- throughput`.
"""
import argparse
import time

import torch
import torch.nn as nn


def cnn_cifar(f1, f2):
    return nn.Sequential(
        nn.Conv2d(3, f1, 3, padding=1), nn.ReLU(),
        nn.Conv2d(f1, f1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(f1, f2, 3, padding=1), nn.ReLU(),
        nn.Conv2d(f2, f2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(f2, 2 * f2, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(2 * f2, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


def cnn_fmnist(k):
    p = k // 2
    return nn.Sequential(
        nn.Conv2d(1, 16, k, padding=p), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, k, padding=p), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


MODELS = {
    "fmnist-mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                         nn.Linear(64, 10)), (1, 28, 28)),
    "fmnist-cnn": (lambda: cnn_fmnist(3), (1, 28, 28)),
    "fmnist-cnn-k5": (lambda: cnn_fmnist(5), (1, 28, 28)),
    "cifar-dense": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(3072, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                          nn.Linear(256, 10)), (3, 32, 32)),
    "cifar-small": (lambda: cnn_cifar(8, 16), (3, 32, 32)),
    "cifar-medium": (lambda: cnn_cifar(16, 32), (3, 32, 32)),
    "cifar-big": (lambda: cnn_cifar(32, 64), (3, 32, 32)),
    "cifar-extra-big": (lambda: cnn_cifar(64, 128), (3, 32, 32)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    build, shape = MODELS[args.model]
    model = build()
    print(f"torch {torch.__version__}, {args.model}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"batch {args.batch}, threads {torch.get_num_threads()}")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(args.batch, *shape)
    y = torch.randint(0, 10, (args.batch,))

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    elapsed = time.perf_counter() - start
    print(f"images/s: {args.steps * args.batch / elapsed:.1f}")


if __name__ == "__main__":
    main()
