#!/usr/bin/env bash
# Runs on the GPU machine, from the unpacked bundle that bench/gpu.sh builds (no .NET install or internet needed):
#   1. devices (what ILGPU finds) and nvidia-smi
#   2. the CUDA backend tests (CudaBackendSuite, the ILGPU backend tests; they skip, and this script stops, without CUDA)
#   3. throughput of cifar-big and cifar-extra-big on cuda vs cpu
#   4. CpuVsGpuBenchmarks and TrainStepBenchmarks with --device cuda (BenchmarkDotNet in-process)
#   5. the PyTorch/cuDNN peer (bench/peers/pytorch_conv.py), when python3 can import torch
# Everything lands in results-<time>/ beside this script. Usage: ./run-gpu.sh [cuda|cuda:N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
device="${1:-cuda}"
export DOTNET_ROOT="$here/dotnet" DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet="$here/dotnet/dotnet"
results="$here/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$results"
experiments() { "$dotnet" "$here/experiments/NativeConv.Experiments.dll" "$@"; }

(nvidia-smi || echo "nvidia-smi not found") > "$results/nvidia-smi.txt" 2>&1
experiments devices | tee "$results/devices.txt"

echo "== CUDA backend tests"
"$dotnet" "$here/xunit/xunit.console.dll" "$here/tests/NativeConv.Tests.dll" \
    -class NativeConv.Tests.Backends.CudaBackendSuite -class NativeConv.Tests.Gpu.IlgpuBackendTests \
    -class NativeConv.Tests.Gpu.PtxCompileTests -class NativeConv.Tests.Experiments.DevicesTests \
    -xml "$results/cuda-tests.xml" -nocolor | tee "$results/cuda-tests.txt"
if grep -q "SKIP" "$results/cuda-tests.txt"; then
    echo "run-gpu.sh: CUDA tests were skipped — no CUDA device here (see $results/cuda-tests.txt)" >&2
    exit 1
fi

echo "== throughput"
for model in fmnist-cnn cifar-big cifar-extra-big; do
    for d in "$device" cpu; do
        experiments throughput --model "$model" --batch 128 --steps 30 --device "$d" | tee "$results/throughput-$model-${d//:/_}.txt"
    done
done

echo "== benchmarks"
for filter in '*CpuVsGpu*' '*TrainStep*'; do
    "$dotnet" "$here/bench/NativeConv.Bench.dll" --filter "$filter" --device "$device" --inProcess \
        --artifacts "$results/bench" --exporters github | tee "$results/bench-${filter//\*/}.txt"
done

echo "== PyTorch peer"
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    python3 "$here/peers/pytorch_conv.py" --device cuda | tee "$results/pytorch_conv.md"
else
    echo "skipped: python3 cannot import torch with CUDA" | tee "$results/pytorch_conv.md"
fi
echo "results in $results"
