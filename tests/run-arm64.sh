#!/usr/bin/env bash
# ARM64 under emulation: publish the test executable self-contained for linux-arm64 and run a subset of it under
# qemu-user, so the Vector128 (NEON / AdvSimd) kernels are proven on ARM64 by every CI run. Ends with the plain line
# "N passed, N failed, N skipped".
#
# Needs (Debian multiarch; .ci/run installs them):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install qemu-user libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 zlib1g:arm64 libssl3:arm64
# The arm64 libssl is not optional: without it the .NET runtime aborts ("No usable version of libssl was found").
# The linux-arm64 runtime and apphost packs come from NuGet on the first publish.
#
# The subset (what emulation runs in a few minutes, about 10-50x slower than native):
#   - NativeConv.Tests.Kernels*   every kernel against its scalar reference on awkward sizes, at every width the
#                                 ARM64 runtime offers (Vector128 = NEON, and the scalar fallbacks), less the
#                                 Study* methods (the study models' full-size convolutions: awkward sizes and tails are
#                                 covered by the others; these are three quarters of the native kernel-suite time) and
#                                 GemmTests.Large_aligned_C_* (a 1-2 Mi-element GEMM for x64's non-temporal stores)
#   - NativeConv.Tests.Optim*     the optimiser kernels
#   - NativeConv.Tests.Gradients* the gradient checks of every op
#   - NativeConv.Tests.Backends.CpuBackendSuite   the backend suite on the CPU engine
#   - NativeConv.Tests.EndToEnd.LossTrajectoryTests   a short training run whose loss must follow a double-precision
#                                 reference step by step (1e-4 absolute + 1e-4 relative)
# Left out: the ILGPU/GPU tests (ILGPU's CPU accelerator emulates GPU threads with host threads and barriers, slow enough
# natively; under qemu it would take the whole CI budget, and it tests the GPU kernels, not the ARM64 CPU path), the
# real-data tests (minutes of decoding natively, and nothing width-specific), and the CLI/report/study tests (no SIMD).
#
# Measured on this 2-core machine while other builds ran (load average 15-30): 804 tests, 255 s under qemu-aarch64
# (3 CPU-minutes), plus 126 s for the publish.
#
# Options: --list (list the selected tests, run nothing). Extra arguments go to the xunit.v3 runner (see its -help).
set -euo pipefail
cd "$(dirname "$0")/.."

work="${NATIVECONV_ARM64_DIR:-${TMPDIR:-/tmp}/nativeconv-arm64}"
filters=(
  -filter '/*/NativeConv.Tests.Kernels*/*/(!Study*)&(!Large_aligned*)'
  -filter '/*/NativeConv.Tests.Optim*/*/*'
  -filter '/*/NativeConv.Tests.Gradients*/*/*'
  -filter '/*/NativeConv.Tests.Backends/CpuBackendSuite/*'
  -filter '/*/NativeConv.Tests.EndToEnd/LossTrajectoryTests/*'
)

missing=()
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
for lib in libc.so.6 libstdc++.so.6 libgcc_s.so.1 libz.so.1 libssl.so.3; do
  [ -e "/usr/lib/aarch64-linux-gnu/$lib" ] || [ -e "/lib/aarch64-linux-gnu/$lib" ] || missing+=("$lib (arm64)")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-arm64: missing ${missing[*]}; install them as the comment at the top of $0 says." >&2
  exit 2
fi

start=$(date +%s)
echo "run-arm64: publishing a self-contained linux-arm64 test executable into $work"
dotnet publish tests/NativeConv.Tests.csproj -c Release -r linux-arm64 --self-contained \
  --artifacts-path "$work/artifacts" -o "$work/publish" -nologo -v quiet -clp:ErrorsOnly
published=$(date +%s)
echo "run-arm64: published in $((published - start)) s"

export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
export OPENSSL_armcap=0   # keep OpenSSL from probing CPU features through SIGILL under emulation
# W^X off: the runtime otherwise writes code through a second, writable mapping of the same pages, which qemu-user does
# not see as a code change; measured here: reflection stubs threw NullReferenceException and attribute reads failed
# ("'Inherited' property specified was not found") after a few dozen tests. With it off, the same tests pass.
export DOTNET_EnableWriteXorExecute=0
# -L /: the arm64 loader and libraries are Debian's multiarch ones under / (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu).
runner=(qemu-aarch64 -L / "$work/publish/NativeConv.Tests")

if [ "${1:-}" = "--list" ]; then
  shift
  exec "${runner[@]}" -noColor -list tests "${filters[@]}" "$@"
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
# -showLiveOutput: VectorPathTests prints the vector path the emulated process took (AdvSimd, Vector128).
"${runner[@]}" -noColor -noLogo -showLiveOutput "${filters[@]}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "run-arm64: tests ran in $(( $(date +%s) - published )) s under qemu-aarch64 ($(( $(date +%s) - start )) s with the publish)"

# The runner's summary: "   NativeConv.Tests  Total: 1234, Errors: 0, Failed: 0, Skipped: 0, Not Run: 0, Time: 123.4s".
summary=$(grep -E 'Total: +[0-9]+, Errors: +[0-9]+, Failed: +[0-9]+, Skipped: +[0-9]+' "$log" | tail -n 1 || true)
if [ -z "$summary" ]; then
  echo "run-arm64: the runner printed no summary (exit code $status)." >&2
  [ "$status" -ne 0 ] || status=1
  exit "$status"
fi
field() { sed -E "s/.*$1: +([0-9]+).*/\\1/" <<<"$summary"; }
total=$(field Total); errors=$(field Errors); failed=$(field Failed); skipped=$(field Skipped)
notrun=$(sed -nE 's/.*Not Run: +([0-9]+).*/\1/p' <<<"$summary"); notrun=${notrun:-0}
passed=$((total - failed - skipped - notrun))
failed=$((failed + errors))
if [ "$total" -eq 0 ]; then
  echo "run-arm64: the filter selected no test." >&2
  [ "$status" -ne 0 ] || status=1
fi
echo "arm64: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
