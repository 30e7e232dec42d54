#!/usr/bin/env bash
# Regenerate examples/<model>.yaml from examples/hf/<model>.json with `archc import`.
# The import test compares against these files: run this only after checking the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
for j in examples/hf/*.json; do
  n=$(basename "$j" .json)
  ./build/archc import "$j" -o "examples/$n.yaml"
done
