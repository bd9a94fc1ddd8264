#!/usr/bin/env bash
# Training-step throughput, ours vs the PyTorch peer, measured alternately in one sitting (A B A B ...), medians and ratio.
# Usage: bench/peers/compare_throughput.sh [rounds] [model ...]
#   rounds: alternations per model (default 5); models default to fmnist-cnn cifar-big cifar-extra-big.
# Needs: dotnet (builds src/Experiments), and python3-torch for /usr/bin/python3 (Debian: apt-get install python3-torch).
# The peer runs at its best: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE overrides removed, ATen's AVX-512 kernels, OpenMP threads
# bound to cores and busy-waiting between parallel regions (measured here: up to 1.5x faster than PyTorch's defaults).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}; shift || true
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(fmnist-cnn cifar-big cifar-extra-big)
batch=${BATCH:-128}; threads=${THREADS:-2}; steps=${STEPS:-20}

dotnet build src/Experiments -c Release -v quiet -nologo >/dev/null
ours() { dotnet src/Experiments/bin/Release/net10.0/NativeConv.Experiments.dll throughput --model "$1" --batch "$batch" \
           --threads "$threads" --steps "$steps" | sed -n 's/^images\/s: //p'; }
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ATEN_CPU_CAPABILITY=avx512 OMP_NUM_THREADS="$threads" \
           OMP_PROC_BIND=true OMP_WAIT_POLICY=ACTIVE /usr/bin/python3 bench/peers/pytorch_train_step.py --model "$1" \
           --batch "$batch" --threads "$threads" --steps "$steps" | sed -n 's/^images\/s: //p'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-16s %12s %12s %8s\n' model ours_img/s torch_img/s ratio
for m in "${models[@]}"; do
  a=(); b=()
  for ((i = 0; i < rounds; i++)); do a+=("$(ours "$m")"); b+=("$(peer "$m")"); done
  ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-16s %12.1f %12.1f %8.2f\n' "$m" "$ma" "$mb" "$(awk -v x="$ma" -v y="$mb" 'BEGIN{print x/y}')"
done
