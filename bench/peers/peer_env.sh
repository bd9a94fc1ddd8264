#!/usr/bin/env bash
# The peers' environment at their best on this CPU, as `VAR=value` words for `env`, and what it decided on stderr.
# Usage: bench/peers/peer_env.sh [native|avx2]
#   native: the widest ISA the CPU has. avx2: what an AVX2-only CPU gets (to compare against ours with DOTNET_EnableAVX512=0).
# OpenBLAS 0.3.21 does not know every CPU: on Emerald Rapids it falls back to its SSE3 "Prescott" kernels (59 vs 291
# GFLOP/s at 1024³), and some environments force OPENBLAS_CORETYPE=Haswell. So the overrides are removed, OpenBLAS is
# asked which kernel it picks (openblas_get_corename), and where that kernel does not use the CPU's widest vectors the
# matching core type is set: Cooperlake/SkylakeX (AVX-512), Haswell (AVX2).
set -euo pipefail
isa=${1:-native}

flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { [[ " $flags " == *" $1 "* ]]; }

corename() { # the kernel OpenBLAS picks under the given environment words
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@" /usr/bin/python3 -c '
import ctypes, sys
for name in ("libopenblas.so.0", "libopenblas.so"):
    try:
        lib = ctypes.CDLL(name)
        break
    except OSError:
        lib = None
if lib is None:
    sys.exit("OpenBLAS is not installed (apt-get install libopenblas-dev)")
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())'
}

words=()
case "$isa" in
  native)
    if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
      words+=(ATEN_CPU_CAPABILITY=avx512)
      core=$(corename)
      case "$core" in
        SkylakeX|Cooperlake|SapphireRapids) ;;
        *) if has avx512_bf16; then words+=(OPENBLAS_CORETYPE=Cooperlake); else words+=(OPENBLAS_CORETYPE=SkylakeX); fi ;;
      esac
    elif has avx2 && has fma; then
      words+=(ATEN_CPU_CAPABILITY=avx2)
      core=$(corename)
      case "$core" in
        Haswell|Zen|SkylakeX|Cooperlake|SapphireRapids) ;;
        *) words+=(OPENBLAS_CORETYPE=Haswell) ;;
      esac
    else
      words+=(ATEN_CPU_CAPABILITY=default)
    fi ;;
  avx2)
    words+=(DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell) ;;
  *) echo "peer_env.sh: unknown ISA '$isa'; use native or avx2." >&2; exit 2 ;;
esac

final=$(corename "${words[@]}")
echo "peer ($isa): ${words[*]:-no overrides}; OpenBLAS kernel: $final" >&2
printf '%s\n' "${words[@]}"
