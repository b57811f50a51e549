#!/usr/bin/env bash
# The bench suite on a lent GPU machine, for BENCHMARKS.md's "Real GPUs" section.
#
# The machine has no Deno, no Vulkan loader and no network, so the call carries them (see BENCHMARKS.md):
#   .gl/        the Vulkan and GL loader .deb files (device README)
#   .deno-bin/  deno.xz (the Deno binary) and denodir.tar.xz (a DENO_DIR holding the npm packages)
# Writes every log to $OUT (or ./out) and prints the summaries last.
set -u
out="${OUT:-out}"
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
mkdir -p /tmp/deno-bin
xz -dc .deno-bin/deno.xz >/tmp/deno-bin/deno && chmod +x /tmp/deno-bin/deno
tar -xJf .deno-bin/denodir.tar.xz -C /tmp
export PATH="/tmp/deno-bin:$PATH" DENO_DIR=/tmp/denodir NO_COLOR=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg}"
mkdir -p "$XDG_RUNTIME_DIR"
bench="deno bench -A --no-lock --cached-only"

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
  deno --version | head -1
  deno eval 'const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    console.log(a ? JSON.stringify(a.info) : "no adapter")'
} 2>&1 | tee "$out/env.txt"

if [ "${TORCH_S:-80}" != 0 ]; then
  timeout "${TORCH_S:-80}" python3 tools/torch_reference.py 2>&1 | tee "$out/torch.txt"
fi
timeout "${CONV_S:-120}" $bench bench/conv_bench.ts >"$out/conv.txt" 2>&1
if [ "${TRAIN_S:-200}" != 0 ]; then
  RESNET_BENCH_BATCH=64 RESNET_BENCH_ITERATIONS=3 RESNET_BENCH_STEPS=10 RESNET_BENCH_PEER=imagenet \
    timeout "${TRAIN_S:-200}" $bench bench/train_bench.ts >"$out/train.txt" 2>&1
fi

grep -E '^(adapter|autotune|  [a-zA-Z]+: |best |convolutions of)' "$out/conv.txt"
[ -f "$out/train.txt" ] && sed -n '/^Training bench/,/^GFLOP\/s: 2 per/p' "$out/train.txt"
