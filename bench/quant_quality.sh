#!/usr/bin/env bash
# bench/quant_quality.sh — quality of archc's quantised checkpoints side by side
# with llama.cpp's Q8_0 / Q4_0 / MXFP4 on the same random weights.
#
#   bash bench/quant_quality.sh
#
# Per model (default: the qwen3-0.6b shape and a tiny qwen3 of the fixture's
# dims), one prompt of QQ_TOKENS random token ids (default 128), the logits of
# every prompt position:
#   reference   archc's f32 build on the f32 checkpoint (archc init-weights
#               --dtype f32 --seed 1; archc's f32 equals transformers on every
#               fixture)
#   archc       archc quantize --format int8|int4|fp8|mxfp4 of that checkpoint,
#               archc import, compile, --logits (all positions)
#   llama.cpp   the GGUF of the same f32 weights (bench/gguf_from_hf.py),
#               quantised by llama.cpp's llama-quantize, logits of all positions
#               through bench/llama_logits_all.c (f32 KV cache, no flash
#               attention: the weights are the only approximation); two GGUFs
#               per type:
#                 "same tensors": --pure --token-embedding-type f32, i.e. every
#                   matrix incl. the lm_head in the type and the embedding f32,
#                   exactly what archc quantize does;
#                 "default": llama-quantize's own mix (Q4_0 puts the lm_head in
#                   Q6_K and the embedding in Q4_0).
#               A tied embedding is written untied first (lm_head = a copy of
#               the embedding, quant_quality.py untie): the same model, so that
#               llama.cpp's lm_head can be quantised apart from the embedding as
#               archc's is.  The GGUF's own f32 logits are compared too: the
#               floor of the comparison (two programs, one model).
# Per format: mean and max over the positions of KL(p_f32 || p_quant) in nats,
# top-1 agreement (positions whose argmax is the reference's), bytes per weight
# of the quantised matrices (values + scales).
#
# Random weights give nearly flat next-token distributions, so the KL scale is
# not that of a trained model (llama.cpp's Llama-3-8B scoreboard: Q8_0 0.0014,
# Q4_0 0.074) and top-1 is harsher than on trained weights; the two programs
# are compared on equal terms.
#
# Knobs (environment):
#   QQ_WORK     work dir (default /tmp/archc-quant-quality; qwen3-0.6b needs
#               about 15 GB: f32 checkpoint untied, its GGUF, the quantised copies)
#   QQ_MODELS   qwen3-0.6b, qwen3-tiny, or .yaml paths (qwen3 family; default both)
#   QQ_FORMATS  archc formats (default "int8 int4 mxfp4 fp8"); int8/int4/mxfp4
#               are paired with llama.cpp's Q8_0/Q4_0/MXFP4, fp8 has no peer
#   QQ_TOKENS   prompt length (default 128)
#   QQ_THREADS  threads for every run (default 2)
#   QQ_BUILD    archc build dir (default build-bench), QQ_JOBS make jobs (2)
#   LLAMA_CPP_DIR  llama.cpp source with build/ (default ../llama.cpp); its
#               llama-quantize and libllama are built there when missing
#
# Python: numpy, gguf, pyyaml (pip install gguf numpy pyyaml).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${QQ_BUILD:-build-bench}
WORK=${QQ_WORK:-/tmp/archc-quant-quality}
MODELS=${QQ_MODELS:-qwen3-0.6b qwen3-tiny}
FORMATS=${QQ_FORMATS:-int8 int4 mxfp4 fp8}
NT=${QQ_TOKENS:-128}
THR=${QQ_THREADS:-2}
JOBS=${QQ_JOBS:-2}
mkdir -p "$WORK"
say() { printf '%s\n' "$*" >&2; }

say "== building archc in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target archc >/dev/null
ARCHC=$ROOT/$BUILD/archc

# ── llama.cpp: llama-quantize, libllama.so and llama.h
LDIR=${LLAMA_CPP_DIR:-$ROOT/../llama.cpp}
LQ= LA=
if [ -f "$LDIR/CMakeLists.txt" ]; then
  if [ ! -x "$LDIR/build/bin/llama-quantize" ] || [ ! -f "$LDIR/build/bin/libllama.so" ]; then
    say "== building llama-quantize and libllama in $LDIR/build (Release, -j$JOBS)"
    cmake -S "$LDIR" -B "$LDIR/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
    cmake --build "$LDIR/build" -j"$JOBS" --target llama-quantize llama >/dev/null
  fi
  LQ=$LDIR/build/bin/llama-quantize
  LA=$WORK/llama_logits_all
  ${CC:-cc} -O1 bench/llama_logits_all.c -I"$LDIR/include" -I"$LDIR/ggml/include" -L"$LDIR/build/bin" -lllama \
    -Wl,-rpath,"$LDIR/build/bin" -o "$LA" || { say "note: could not build bench/llama_logits_all.c: archc alone"; LQ=; LA=; }
  python3 -c 'import gguf, yaml' 2>/dev/null || { say "note: python gguf/pyyaml missing (pip install gguf pyyaml): archc alone"; LQ=; LA=; }
else
  say "note: no llama.cpp source at $LDIR (set LLAMA_CPP_DIR): archc alone"
fi

# the fixture's dims (tests/fixtures/qwen3) without its sliding windows, which
# llama.cpp's qwen3 does not have
cat > "$WORK/qwen3-tiny.yaml" <<'EOF'
name: qwen3-tiny
family: qwen3
vocab: 512
hidden: 64
layers: 3
max_context: 256
norm: {kind: rmsnorm, eps: 1e-06}
rope:
  kind: default
  theta: 1000000
attention:
  kind: gqa
  heads: 6
  kv_heads: 2
  head_dim: 16
  qk_norm: head
ffn:
  kind: swiglu
  intermediate: 160
blocks:
  - {layers: all, norms: pre}
tie_embeddings: false
weights: {names: hf, format: f32}
EOF

model_yaml() {
  case $1 in
    qwen3-0.6b) echo examples/qwen3-0.6b.yaml ;;
    qwen3-tiny) echo "$WORK/qwen3-tiny.yaml" ;;
    *.yaml) echo "$1" ;;
    *) say "error: unknown model $1 (qwen3-0.6b, qwen3-tiny or a .yaml)"; exit 2 ;;
  esac
}
llama_type() { case $1 in int8) echo Q8_0 ;; int4) echo Q4_0 ;; mxfp4) echo MXFP4_MOE ;; *) echo - ;; esac; }
archc_bpw() { case $1 in int8) echo 1.0625 ;; int4) echo 0.5625 ;; fp8) echo 1.0002 ;; mxfp4) echo 0.53125 ;; esac; }
llama_bpw() { case $1 in Q8_0) echo 1.0625 ;; Q4_0) echo 0.5625 ;; MXFP4_MOE) echo 0.53125 ;; *) echo - ;; esac; }
run_archc() {   # binary weights out
  "$1" --weights "$2" --tokens "$IDS" -n 1 --threads "$THR" --logits "$3" >/dev/null 2>"$WORK/last.err" \
    || { say "warning: $1 failed: $(tail -1 "$WORK/last.err")"; rm -f "$3"; }
}
run_llama() {   # gguf out
  "$LA" "$1" "$2" "$IDS" "$THR" >/dev/null 2>"$WORK/last.err" || { say "warning: llama.cpp on $1 failed: $(tail -1 "$WORK/last.err")"; rm -f "$2"; }
}

REPORT=$WORK/report.txt
: > "$REPORT"
for m in $MODELS; do
  Y=$(model_yaml "$m"); n=$(basename "$Y" .yaml)
  V=$(sed -nE 's/^vocab: *([0-9]+).*/\1/p' "$Y")
  IDS=$(python3 bench/quant_quality.py ids "$NT" "$V" 1)
  # the f32 checkpoint, untied, and its description
  YU=$WORK/$n-untied.yaml
  sed -E 's/^tie_embeddings: *true/tie_embeddings: false/' "$Y" > "$YU"
  W=$WORK/$n-f32
  if [ ! -f "$W/model.safetensors" ]; then
    say "== random weights $W"
    "$ARCHC" init-weights "$Y" -o "$W.raw" --dtype f32 --seed 1 >/dev/null
    if grep -qE '^tie_embeddings: *true' "$Y"; then
      python3 bench/quant_quality.py untie "$W.raw" "$W" && rm -rf "$W.raw"
    else
      mv "$W.raw" "$W"
    fi
  fi
  say "== $n: archc f32 (reference)"
  "$ARCHC" "$YU" --weights-format=f32 -o "$WORK/archc-$n-f32" >/dev/null
  REF=$WORK/$n-archc-f32.logits
  run_archc "$WORK/archc-$n-f32" "$W" "$REF"
  [ -f "$REF" ] || { say "error: no reference logits for $n"; exit 1; }
  CMP=()
  for f in $FORMATS; do
    Q=$WORK/$n-$f
    if [ ! -f "$Q/config.json" ]; then
      say "== $n: archc quantize --format $f"
      "$ARCHC" quantize "$W" -o "$Q" --format "$f" >/dev/null
    fi
    "$ARCHC" import "$Q" -o "$WORK/$n-$f.yaml" >/dev/null
    "$ARCHC" "$WORK/$n-$f.yaml" -o "$WORK/archc-$n-$f" >/dev/null
    run_archc "$WORK/archc-$n-$f" "$Q" "$WORK/$n-archc-$f.logits"
    CMP+=("archc-$f:$WORK/$n-archc-$f.logits")
  done
  if [ -n "$LQ" ]; then
    G=$WORK/$n-f32.gguf
    if [ ! -f "$G" ]; then
      say "== $n: GGUF $G"
      python3 bench/gguf_from_hf.py "$YU" "$W" "$G.tmp" >/dev/null && mv "$G.tmp" "$G"
    fi
    run_llama "$G" "$WORK/$n-llama-f32.logits"
    CMP+=("llama-f32:$WORK/$n-llama-f32.logits")
    for f in $FORMATS; do
      t=$(llama_type "$f"); [ "$t" != - ] || continue
      for mix in same default; do
        [ "$mix" = default ] && [ "$t" = MXFP4_MOE ] && continue   # its default mix of a dense model is Q8_0
        GQ=$WORK/$n-$t-$mix.gguf
        if [ ! -f "$GQ" ]; then
          say "== $n: llama-quantize $t ($mix)"
          if [ "$mix" = same ]; then "$LQ" --pure --token-embedding-type f32 "$G" "$GQ" "$t" >"$WORK/last.err" 2>&1 || { say "warning: llama-quantize $t failed"; continue; }
          else "$LQ" "$G" "$GQ" "$t" >"$WORK/last.err" 2>&1 || { say "warning: llama-quantize $t failed"; continue; }; fi
        fi
        run_llama "$GQ" "$WORK/$n-llama-$t-$mix.logits"
        CMP+=("llama-$f-$mix:$WORK/$n-llama-$t-$mix.logits")
      done
    done
  fi
  python3 bench/quant_quality.py compare "$REF" "$V" "${CMP[@]}" | sed "s/^/$n /" >> "$REPORT"
done

# ── the table
echo
echo "== quantised logits against archc's f32 logits: $NT prompt positions, KL(p_f32 || p_quant) in nats, random weights (seed 1)"
echo "cpu: $(lscpu | sed -nE 's/^Model name: *//p' | head -1) ($(nproc) cpus visible), $(date -u +%Y-%m-%d)"
if [ -n "$LQ" ]; then
  ver=$( { "$LDIR/build/bin/llama-bench" --version 2>&1 || git -C "$LDIR" describe --tags 2>/dev/null; } | head -1 || true)
  echo "llama.cpp: $LDIR${ver:+ ($ver)}"
fi
python3 - "$REPORT" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 6:
        rows[(p[0], p[1])] = p[2:]
def cell(k):
    r = rows.get(k)
    return ("%9s %9s %7s" % (r[0], r[1], "%s/%s" % (r[2], r[3]))) if r else "%9s %9s %7s" % ("-", "-", "-")
bpw = {"int8": "1.0625", "int4": "0.5625", "fp8": "1.0002", "mxfp4": "0.531"}
peer = {"int8": ("Q8_0", "1.0625"), "int4": ("Q4_0", "0.5625"), "mxfp4": ("MXFP4", "0.531")}
hdr = "%-11s %-6s %6s  %9s %9s %7s | %-6s %6s  %9s %9s %7s | %9s %9s %7s" % (
    "model", "format", "B/w", "mean_KL", "max_KL", "top-1", "llama", "B/w", "mean_KL", "max_KL", "top-1", "dflt_mean", "dflt_max", "top-1")
print(hdr)
models = []
for (m, _) in rows:
    if m not in models: models.append(m)
for m in models:
    for f in ["int8", "int4", "mxfp4", "fp8"]:
        if (m, "archc-" + f) not in rows: continue
        t, b = peer.get(f, ("-", "-"))
        print("%-11s %-6s %6s  %s | %-6s %6s  %s | %s" % (m, f, bpw[f], cell((m, "archc-" + f)), t, b,
              cell((m, "llama-%s-same" % f)), cell((m, "llama-%s-default" % f))))
    if (m, "llama-f32") in rows:
        print("%-11s %-6s %6s  %9s %9s %7s | %-6s %6s  %s |" % (m, "f32", "4", "(ref)", "", "", "F32", "4", cell((m, "llama-f32"))))
EOF
echo "llama columns: 'same tensors' (--pure, embedding f32, lm_head in the type, as archc); dflt = llama-quantize's default mix"
echo "(Q4_0: lm_head Q6_K, or Q8_0 when hidden is not a multiple of 256, embedding Q4_0; Q8_0: all Q8_0).  llama F32 row: llama.cpp's f32 GGUF against archc f32 (the floor)."
