#!/usr/bin/env bash
# Packs everything a GPU machine needs — no .NET install, no internet there — as one tar.xz (< 64 MiB):
#   dotnet/        the .NET runtime of this machine (muxer, hostfxr, Microsoft.NETCore.App): the bundle is self-contained
#   experiments/   NativeConv.Experiments (devices, throughput, the studies)
#   bench/         NativeConv.Bench (BenchmarkDotNet; run with --inProcess: there is no SDK to build benchmark processes)
#   tests/         NativeConv.Tests, run by the xunit console runner in xunit/ (no SDK needed)
#   peers/         the PyTorch peers (run only when python3 can import torch)
#   run-gpu.sh     runs it all with --device cuda and writes results-<time>/ (see docs/perf/gpu.md)
# The CUDA path needs only the NVIDIA driver (libcuda.so.1): ILGPU generates PTX itself, no CUDA toolkit.
# One runtime shared by the three programs, instead of three self-contained copies, keeps the archive small.
# Usage: bench/gpu.sh [output-dir]   (default: bin/gpu-publish, git-ignored)
#   then: scp OUT/nativeconv-gpu.tar.xz gpu-host: && ssh gpu-host 'tar -xJf nativeconv-gpu.tar.xz && nativeconv-gpu/run-gpu.sh'
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/bin/gpu-publish}"
name="nativeconv-gpu"
dir="$out/$name"
rm -rf "${dir:?}" "$out/$name.tar.xz"
mkdir -p "$dir"

# The runtime the programs were built against (framework-dependent publishes below run on it via DOTNET_ROOT).
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_version="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" && $2 ~ /^10\./ { v = $2 } END { print v }')"
[ -n "$runtime_version" ] || { echo "gpu.sh: no Microsoft.NETCore.App 10.x runtime found (dotnet --list-runtimes)" >&2; exit 1; }
mkdir -p "$dir/dotnet/host/fxr" "$dir/dotnet/shared/Microsoft.NETCore.App"
cp "$dotnet_root/dotnet" "$dir/dotnet/"
cp -r "$dotnet_root/host/fxr/$(ls "$dotnet_root/host/fxr" | sort -V | tail -1)" "$dir/dotnet/host/fxr/"
cp -r "$dotnet_root/shared/Microsoft.NETCore.App/$runtime_version" "$dir/dotnet/shared/Microsoft.NETCore.App/"

publish() { # project folder
    dotnet publish "$root/$1" -c Release -r linux-x64 --self-contained false -p:DebugType=none -o "$dir/$2" --nologo -v quiet
}
publish src/Experiments/NativeConv.Experiments.csproj experiments
publish bench/NativeConv.Bench.csproj bench
publish tests/NativeConv.Tests.csproj tests

# The xunit v2 console runner (netcoreapp2.0 build; DOTNET_ROLL_FORWARD=Major runs it on .NET 10).
runner="${NUGET_PACKAGES:-$HOME/.nuget/packages}/xunit.runner.console/2.4.1/tools/netcoreapp2.0"
if [ ! -f "$runner/xunit.console.dll" ]; then
    tmp="$(mktemp -d)"
    printf '%s\n' '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net10.0</TargetFramework>' \
        '<ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup>' \
        '<ItemGroup><PackageDownload Include="xunit.runner.console" Version="[2.4.1]" /></ItemGroup></Project>' > "$tmp/runner.csproj"
    dotnet restore "$tmp/runner.csproj" --nologo -v quiet
    rm -rf "$tmp"
fi
mkdir -p "$dir/xunit" && cp -r "$runner/." "$dir/xunit/"

mkdir -p "$dir/peers" && cp "$root"/bench/peers/*.py "$dir/peers/"
cp "$root/bench/run-gpu.sh" "$dir/run-gpu.sh" && chmod +x "$dir/run-gpu.sh"

tar -C "$out" -cJf "$out/$name.tar.xz" "$name"
bytes=$(stat -c %s "$out/$name.tar.xz")
echo "wrote $out/$name.tar.xz ($((bytes / 1024 / 1024)) MiB; unpacked $(du -sh "$dir" | cut -f1))"
if [ "$bytes" -ge $((64 * 1024 * 1024)) ]; then echo "gpu.sh: the archive is over 64 MiB" >&2; exit 1; fi
