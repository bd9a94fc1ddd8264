#!/usr/bin/env python3
"""Loads a `export --format safetensors-torch` file into the model's PyTorch twin and evaluates it on the test set.

Usage (Debian: apt-get install python3-torch; python3-safetensors is used when installed, else the small reader below):
    /usr/bin/python3 tools/check_torch_export.py FILE [--data-dir DIR] [--limit N] [--threads T]
    /usr/bin/python3 tools/check_torch_export.py --names MODEL      # the twin's state_dict keys and shapes, as JSON

The twin is bench/peers/pytorch_train_step.py's nn.Sequential for the model the file's metadata names; the check is
exactly `twin.load_state_dict(load_file(FILE), strict=True)`, then eval mode and the test split read the way the engine
reads it: Fashion-MNIST's gzip IDX files (t10k-*), CIFAR-10's test_batch.bin from cifar-10-binary.tar.gz, pixels / 255
as float32, no standardisation. The data dir is --data-dir, else $NATIVECONV_DATA, else ./data (files in
<dir>/fashion-mnist/ or <dir>/cifar-10/, or flat in <dir>). Prints the model, then one line `accuracy: A (N images)`.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import tarfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench", "peers"))
from pytorch_train_step import MODELS  # noqa: E402  (the twins of the study models)

try:
    from safetensors.torch import load_file
except ImportError:  # Debian bookworm has no python3-safetensors: read the format directly (float32 only, as exported)
    def load_file(path):
        with open(path, "rb") as f:
            data = f.read()
        (header_length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + header_length])
        buffer = memoryview(data)[8 + header_length:]
        tensors = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            if entry["dtype"] != "F32":
                raise ValueError(f"{path}: tensor {name} is {entry['dtype']}; this reader takes F32 only")
            begin, end = entry["data_offsets"]
            array = np.frombuffer(buffer[begin:end], dtype="<f4").reshape(entry["shape"])
            tensors[name] = torch.from_numpy(array.copy())
        return tensors


def read_metadata(path):
    with open(path, "rb") as f:
        (header_length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(header_length)).get("__metadata__", {})


def find(data_dir, subfolder, name):
    for candidate in (os.path.join(data_dir, subfolder, name), os.path.join(data_dir, name)):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{name} is neither in {os.path.join(data_dir, subfolder)} nor in {data_dir}")


def fashion_test(data_dir):
    with gzip.open(find(data_dir, "fashion-mnist", "t10k-images-idx3-ubyte.gz")) as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, "not an IDX images file"
        images = np.frombuffer(f.read(count * rows * cols), dtype=np.uint8).reshape(count, 1, rows, cols)
    with gzip.open(find(data_dir, "fashion-mnist", "t10k-labels-idx1-ubyte.gz")) as f:
        magic, count = struct.unpack(">II", f.read(8))
        assert magic == 2049, "not an IDX labels file"
        labels = np.frombuffer(f.read(count), dtype=np.uint8)
    return images, labels


def cifar_test(data_dir):
    with tarfile.open(find(data_dir, "cifar-10", "cifar-10-binary.tar.gz")) as tar:
        member = next(m for m in tar.getmembers() if os.path.basename(m.name) == "test_batch.bin")
        records = np.frombuffer(tar.extractfile(member).read(), dtype=np.uint8).reshape(-1, 3073)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", help="the exported safetensors file")
    ap.add_argument("--names", metavar="MODEL", choices=sorted(MODELS), help="print the twin's state_dict keys and shapes and exit")
    ap.add_argument("--data-dir", default=os.environ.get("NATIVECONV_DATA") or "data")
    ap.add_argument("--limit", type=int, default=None, help="evaluate only the first N test images")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    if args.names:
        twin = MODELS[args.names][0]()
        print(json.dumps([[k, list(v.shape)] for k, v in twin.state_dict().items()]))
        return
    if not args.file:
        ap.error("give the exported FILE (or --names MODEL)")

    torch.set_num_threads(args.threads)
    metadata = read_metadata(args.file)
    name = metadata.get("model")
    if name not in MODELS:
        sys.exit(f"error: {args.file}: metadata 'model' is {name!r}, not one of {', '.join(sorted(MODELS))}")
    twin = MODELS[name][0]()
    twin.load_state_dict(load_file(args.file), strict=True)
    twin.eval()

    images, labels = (fashion_test if MODELS[name][1][0] == 1 else cifar_test)(args.data_dir)
    if args.limit is not None:
        images, labels = images[:args.limit], labels[:args.limit]
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 500):
            x = torch.from_numpy(images[start:start + 500].astype(np.float32) / np.float32(255))
            predicted = twin(x).argmax(dim=1).numpy()
            correct += int((predicted == labels[start:start + 500]).sum())
    print(f"{name} ({metadata.get('dataset', '?')}), torch {torch.__version__}, strict load_state_dict: ok")
    print(f"accuracy: {correct / len(labels):.4f} ({len(labels)} images)")


if __name__ == "__main__":
    main()
