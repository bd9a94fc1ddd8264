#!/usr/bin/env bash
# Training-step throughput, ours vs the PyTorch peer, measured alternately in one sitting (A B A B ...), medians and ratio.
# Usage: bench/peers/compare_throughput.sh [rounds] [model ...]
#   rounds: alternations per model (default 5); models default to fmnist-cnn cifar-big cifar-extra-big.
# ISA=native (default) or ISA=avx2: avx2 hides AVX-512 from both sides (ours: DOTNET_EnableAVX512=0; the peer: oneDNN,
#   ATen and OpenBLAS capped at AVX2), what an AVX2-only CPU sees.
# Needs: dotnet (builds src/Experiments), and python3-torch with OpenBLAS for /usr/bin/python3 (Debian: apt-get install
# python3-torch libopenblas0-pthread; without OpenBLAS, torch's dense layers run the reference BLAS).
# The peer runs at its best (bench/peers/peer_env.sh): the environment's OpenBLAS overrides removed and its kernel checked
# against the CPU, ATen's widest kernels, OpenMP threads bound to cores and busy-waiting between parallel regions
# (measured: up to 1.5x faster than PyTorch's defaults). The first lines name the CPU, our vector path and the peer's kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}; shift || true
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(fmnist-cnn cifar-big cifar-extra-big)
batch=${BATCH:-128}; threads=${THREADS:-2}; steps=${STEPS:-20}; isa=${ISA:-native}
mapfile -t peer_words < <(bench/peers/peer_env.sh "$isa")
ours_words=(); [ "$isa" = avx2 ] && ours_words=(DOTNET_EnableAVX512=0)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); isa: $isa; batch $batch, $threads threads"

dotnet build src/Experiments -c Release -v quiet -nologo >/dev/null
ours() { env "${ours_words[@]}" dotnet src/Experiments/bin/Release/net10.0/NativeConv.Experiments.dll throughput --model "$1" --batch "$batch" \
           --threads "$threads" --steps "$steps" | sed -n 's/^images\/s: //p'; }
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${peer_words[@]}" OMP_NUM_THREADS="$threads" \
           OMP_PROC_BIND=true OMP_WAIT_POLICY=ACTIVE /usr/bin/python3 bench/peers/pytorch_train_step.py --model "$1" \
           --batch "$batch" --threads "$threads" --steps "$steps" | sed -n 's/^images\/s: //p'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.2f", hi/lo}'; }

# Medians of the alternations, their ratio, and each side's spread (fastest / slowest round).
printf '%-16s %12s %12s %8s %12s %12s\n' model ours_img/s torch_img/s ratio ours_spread torch_spread
for m in "${models[@]}"; do
  a=(); b=()
  for ((i = 0; i < rounds; i++)); do a+=("$(ours "$m")"); b+=("$(peer "$m")"); done
  ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-16s %12.1f %12.1f %8.2f %12s %12s\n' "$m" "$ma" "$mb" "$(awk -v x="$ma" -v y="$mb" 'BEGIN{print x/y}')" \
    "$(printf '%s\n' "${a[@]}" | spread)" "$(printf '%s\n' "${b[@]}" | spread)"
done
