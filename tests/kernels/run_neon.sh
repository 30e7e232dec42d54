#!/usr/bin/env bash
# The NEON path of runtime/archc_kernels.h: cross-compile the kernel test for
# AArch64 and run it under qemu.  Skipped (exit 77) where the cross compiler or
# qemu-user is not installed (apt-get install gcc-aarch64-linux-gnu qemu-user).
set -euo pipefail
ROOT=$1; WORK=$2
command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null || { echo "skipped: no aarch64 cross compiler / qemu-user"; exit 77; }
mkdir -p "$WORK"
aarch64-linux-gnu-gcc -std=c11 -D_DEFAULT_SOURCE -O2 -march=armv8.2-a+fp16 -Wall -Wextra -Werror -static -I"$ROOT/runtime" \
  "$ROOT/tests/kernels/test_kernels.c" "$ROOT/runtime/threadpool.c" "$ROOT/runtime/util.c" "$ROOT/runtime/safetensors.c" \
  "$ROOT/runtime/json.c" "$ROOT/runtime/fileio.c" -lm -lpthread -o "$WORK/test_kernels_neon"
grep -q '__ARM_NEON' "$ROOT/runtime/archc_kernels.h"
qemu-aarch64 "$WORK/test_kernels_neon"
