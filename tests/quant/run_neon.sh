#!/usr/bin/env bash
# The NEON path of runtime/archc_quant.h: tests/quant/test_quant_kernels.c for
# AArch64 with and without the dot-product extension, under qemu.  Skipped
# (exit 77) without gcc-aarch64-linux-gnu and qemu-user.
set -euo pipefail
ROOT=$1; WORK=$2
command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null || { echo "skipped: no aarch64 cross compiler / qemu-user"; exit 77; }
mkdir -p "$WORK"
for arch in armv8.2-a+fp16 armv8.2-a+fp16+dotprod; do
  aarch64-linux-gnu-gcc -std=c11 -D_DEFAULT_SOURCE -O2 -march=$arch -Wall -Wextra -static -I"$ROOT/runtime" \
    "$ROOT/tests/quant/test_quant_kernels.c" "$ROOT/runtime/threadpool.c" "$ROOT/runtime/util.c" "$ROOT/runtime/safetensors.c" \
    "$ROOT/runtime/json.c" "$ROOT/runtime/fileio.c" -lm -lpthread -o "$WORK/tq-$arch"
  echo "== $arch"
  qemu-aarch64 "$WORK/tq-$arch" | tail -n 3
done
