#!/usr/bin/env python3
"""Independent reference: train a study model in PyTorch with the studies' defaults on the same files, print test accuracy.

Defaults (as NativeConv's studies): Glorot-uniform weights and zero biases (Keras), Adam lr 1e-3, betas (0.9, 0.999),
eps 1e-7, batch 64, a seeded stratified 10 % validation split, early stopping on validation loss with patience 3 and
restore-best, at most 30 epochs, pixels / 255, no augmentation. The split and shuffles use numpy's generator, not ours, so
the comparison is between frameworks, not a bitwise replay.

Usage (Debian: apt-get install python3-torch python3-numpy):
    /usr/bin/python3 bench/peers/pytorch_study.py --model fmnist-cnn --data-dir ../shared/data --threads 2 --seed 42
"""
import argparse
import copy
import gzip
import os
import struct
import tarfile
import time

import numpy as np
import torch
import torch.nn as nn

from pytorch_train_step import MODELS


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8)


def load(dataset, data_dir):
    if dataset == "fmnist":
        d = os.path.join(data_dir, "fashion-mnist")
        return (read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")), read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")),
                read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")), read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")))
    batches = {}
    with tarfile.open(os.path.join(data_dir, "cifar-10", "cifar-10-binary.tar.gz"), "r:gz") as tar:
        for member in tar.getmembers():
            name = os.path.basename(member.name)
            if name.endswith(".bin"):
                raw = np.frombuffer(tar.extractfile(member).read(), np.uint8).reshape(-1, 3073)
                batches[name] = (raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0])
    train = [batches[f"data_batch_{i}.bin"] for i in range(1, 6)]
    return (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]), *batches["test_batch.bin"])


def glorot(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)  # same fans as Keras: conv fan_in = C·KH·KW, fan_out = OC·KH·KW
            nn.init.zeros_(m.bias)


def evaluate(model, x, y, batch=512):
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            total += loss_fn(out, y[i:i + batch]).item()
            correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    return total / len(x), correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--limit", type=int, default=0,
                    help="train on a seeded stratified subset of N training images (and at most N test images), as ours")
    ap.add_argument("--patience", type=int, default=3, help="epochs without a lower validation loss before stopping (0: never stop early, as ours)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    xtr, ytr, xte, yte = load("fmnist" if args.model.startswith("fmnist") else "cifar", args.data_dir)
    if args.limit > 0:  # stratified: the same share of every class
        pick = lambda y, n: np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[: round(n * np.mean(y == c))]
                                                    for c in range(10)]))
        keep_train = pick(ytr, min(args.limit, len(ytr)))
        keep_test = pick(yte, min(args.limit, len(yte)))
        xtr, ytr, xte, yte = xtr[keep_train], ytr[keep_train], xte[keep_test], yte[keep_test]
    val = np.concatenate([rng.permutation(np.flatnonzero(ytr == c))[: round(0.1 * np.sum(ytr == c))] for c in range(10)])
    keep = np.ones(len(ytr), bool)
    keep[val] = False
    to_x = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0)
    to_y = lambda a: torch.from_numpy(a.astype(np.int64))
    x_train, y_train, x_val, y_val = to_x(xtr[keep]), to_y(ytr[keep]), to_x(xtr[val]), to_y(ytr[val])
    x_test, y_test = to_x(xte), to_y(yte)

    model = MODELS[args.model][0]()
    glorot(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, best_epoch, waited = float("inf"), None, 0, 0
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.from_numpy(rng.permutation(len(x_train)))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
        val_loss, val_acc = evaluate(model, x_val, y_val)
        seconds = time.perf_counter() - epoch_start  # training + validation, as our studies' epoch time
        print(f"epoch {epoch}: val_loss {val_loss:.4f} val_acc {val_acc:.4f} {seconds:.1f}s {len(x_train) / seconds:.0f} img/s", flush=True)
        if val_loss < best:
            best, best_state, best_epoch, waited = val_loss, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            waited += 1
            if args.patience > 0 and waited >= args.patience:
                break
    model.load_state_dict(best_state)
    test_loss, test_acc = evaluate(model, x_test, y_test)
    print(f"{args.model}: best epoch {best_epoch}, test accuracy {test_acc:.4f}, test loss {test_loss:.4f}, "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
