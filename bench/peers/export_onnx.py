#!/usr/bin/env python3
"""Exports the PyTorch twin of a study model to ONNX, carrying OUR weights, for the ONNX Runtime peer.

Usage (Debian: apt-get install python3-torch):
    /usr/bin/python3 bench/peers/export_onnx.py --model cifar-big --weights W.json --out cifar-big.onnx [--opset 13]

W.json lists our parameters in model order, each {"name", "shape", "offset"} (offset in floats into W.bin beside it,
float32 little-endian, our layouts: conv weight (OC, C, KH, KW) as PyTorch's, Dense weight (in, out) as Keras').
They are paired with the twin's parameters in order; a Dense weight is transposed to PyTorch's (out, in) (always: a
square one too). Any shape that
does not match after that is an error: the twin and our model must be the same architecture.
The graph: input `images` (N, C, H, W) float32, output `logits` (N, 10), dynamic batch axis, eval mode (no dropout).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_train_step import MODELS  # noqa: E402  (the same twins the training peer uses)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--weights", required=True, help="our parameters: W.json with W.bin beside it")
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()

    build, shape = MODELS[args.model]
    twin = build()
    with open(args.weights) as f:
        entries = json.load(f)
    data = np.fromfile(os.path.splitext(args.weights)[0] + ".bin", dtype="<f4")
    params = list(twin.named_parameters())
    linear_weights = {f"{m}.weight" for m, module in twin.named_modules() if isinstance(module, torch.nn.Linear)}
    if len(params) != len(entries):
        sys.exit(f"export_onnx: {args.model}: the twin has {len(params)} parameters, ours {len(entries)}")
    with torch.no_grad():
        for (twin_name, p), e in zip(params, entries):
            count = int(np.prod(e["shape"]))
            value = torch.from_numpy(data[e["offset"]:e["offset"] + count].copy()).reshape(e["shape"])
            if twin_name in linear_weights:
                value = value.t()  # Dense: ours (in, out), PyTorch's Linear (out, in) — also when square
            if tuple(value.shape) != tuple(p.shape):
                sys.exit(f"export_onnx: {args.model}: our {e['name']} {tuple(e['shape'])} does not fit the twin's "
                         f"{twin_name} {tuple(p.shape)}")
            p.copy_(value)
    twin.eval()
    torch.onnx.export(twin, torch.rand(1, *shape), args.out, opset_version=args.opset,
                      input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    print(f"wrote {args.out} (torch {torch.__version__}, opset {args.opset})")


if __name__ == "__main__":
    main()
