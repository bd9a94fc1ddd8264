#!/usr/bin/env bash
# Builds a self-contained linux-x64 publish of the experiments program for a GPU machine (no .NET install needed there)
# and packs it as a tar.xz. On the GPU machine:
#   tar -xJf nativeconv-linux-x64.tar.xz && ./nativeconv-linux-x64/NativeConv.Experiments --help
# The CUDA path needs only the NVIDIA driver (libcuda.so.1): ILGPU generates PTX itself, no CUDA toolkit.
# Usage: bench/gpu.sh [output-dir]   (default: bin/gpu-publish, git-ignored)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/bin/gpu-publish}"
name="nativeconv-linux-x64"
rm -rf "${out:?}/$name"
mkdir -p "$out"
dotnet publish "$root/src/Experiments/NativeConv.Experiments.csproj" -c Release -r linux-x64 --self-contained true \
    -o "$out/$name"
tar -C "$out" -cJf "$out/$name.tar.xz" "$name"
echo "wrote $out/$name.tar.xz ($(du -h "$out/$name.tar.xz" | cut -f1))"
