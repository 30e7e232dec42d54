#!/usr/bin/env bash
# The demo: build archc, compile the bundled tiny Llama description to C and to
# an executable, and run it on the bundled tiny checkpoint (random weights, so
# the text is noise — the point is the pipeline and the tokens/s).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! [ -f /usr/include/yaml.h ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq cmake gcc make libyaml-dev >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target archc >/dev/null
OUT=${DEMO_OUT:-/tmp/archc-demo}
mkdir -p "$OUT"
echo "== archc examples/tiny-llama.yaml -o $OUT/tiny-llama.c   (the emitted source)"
./build/archc examples/tiny-llama.yaml -o "$OUT/tiny-llama.c"
echo "   $(wc -l < "$OUT/tiny-llama.c") lines; kernels: $(grep -c '^static void' "$OUT/tiny-llama.c")"
echo "== archc examples/tiny-llama.yaml -o $OUT/tiny-llama     ($(./build/archc --version | tail -1))"
./build/archc examples/tiny-llama.yaml -o "$OUT/tiny-llama"
echo "== $OUT/tiny-llama --weights examples/tiny-llama --prompt \"Once upon a time\" -n 32"
"$OUT/tiny-llama" --weights examples/tiny-llama --prompt "Once upon a time" -n 32
