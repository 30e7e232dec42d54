#!/usr/bin/env bash
# bench/vs_llamacpp.sh — archc against llama.cpp on the same random weights, in
# one run, interleaved (rep 1: archc, llama.cpp; rep 2: archc, llama.cpp; …),
# best of BENCH_REPS, at each thread count.
#
#   bash bench/vs_llamacpp.sh
#
# What it does:
#   1. builds archc (cmake Release in $BENCH_BUILD, default build-bench)
#   2. per model and dtype: random weights (archc init-weights --seed 1), the
#      archc binary (--weights-format=DTYPE), and a GGUF of the same weights
#      (bench/gguf_from_hf.py, PyPI `gguf`); q8_0 / q4_0 GGUFs come from the
#      f32 one through llama.cpp's llama-quantize, and archc's rows for them
#      run archc's int8 / int4 (archc quantize of the same f32 checkpoint,
#      then archc import + compile; blocks of 32 like Q8_0 / Q4_0)
#   3. prefill: a 128-token prompt (archc --tokens <128 ids> -n 1, its
#      prefill_tok_s; llama-bench's pp128 test)
#      decode: 64 steps from an empty context (llama-bench's tg64 test runs 64
#      single-token steps at positions 0..63; archc gets a 1-token prompt and
#      -n 65, so its 64 timed decode steps run at positions 1..64 — the same
#      work give or take one position of attention)
#      One `llama-bench -p 128 -n 64 -r 1` per repetition runs both tests, each
#      on a fresh context after its own warm-up run (the same as -p 128 -n 0
#      and -p 0 -n 64 separately).  archc runs as two fresh processes (prefill,
#      decode), each with --warmup: the same prefill (and one decode step)
#      once untimed first, as llama-bench does, so neither side's timing
#      includes the first touch of its activation and scratch memory.
#   4. prints the table (tok/s and archc/llama.cpp ratios), the CPU, the
#      machine's ceilings (bench_ceilings, before and after; the higher counts)
#      and a same-model check: archc's and llama.cpp's last-position logits on
#      an 8-token prompt (llama.cpp through bench/llama_logits.c, built against
#      its libllama when its headers are found; correlation, max difference,
#      whether the argmax agrees)
#
# llama.cpp is not part of this project and is never committed.  The script
# uses, in this order: LLAMA_BENCH=/path/to/llama-bench (and LLAMA_QUANTIZE=
# /path/to/llama-quantize, optional); else LLAMA_CPP_DIR=/path/to/llama.cpp
# (default: ../llama.cpp beside this checkout, if there), building llama-bench
# and llama-quantize there when missing (cmake -DGGML_NATIVE=ON -DLLAMA_CURL=OFF,
# Release, -j$BENCH_JOBS); else it says how to get llama.cpp and runs archc alone.
#
# Knobs (environment):
#   BENCH_WORK     work dir for weights, GGUFs, binaries (default /tmp/archc-vs-llamacpp)
#   BENCH_MODELS   any of: qwen3-0.6b qwen3-moe deepseek-mla, or paths to .yaml
#                  (default: all three)
#   BENCH_DTYPES   any of: f32 bf16 bf16p q8_0 q4_0 mxfp4 fp8 (default: f32 bf16 bf16p); bf16p is
#                  the bf16 checkpoint with archc --precision bf16 (bf16-rounded
#                  activations in the matrix products, as llama.cpp computes bf16: its same precision);
#                  mxfp4: archc quantize --format mxfp4 against llama.cpp's MXFP4 (llama-quantize
#                  --pure MXFP4_MOE: every matrix MXFP4, as archc's); fp8: archc quantize
#                  --format fp8 (DeepSeek's layout), archc alone: llama.cpp has no fp8 type
#   BENCH_REPS     repetitions (default 3): the table gives the best of each side and
#                  the median of the per-repetition ratios (pp_med, tg_med)
#   BENCH_THREADS  thread counts (default "1 2")
#   BENCH_PROMPT / BENCH_GEN   prefill / decode tokens (default 128 / 64)
#   BENCH_DEPTH    decode at long context too: D > 0 adds, for the models in
#                  BENCH_DEPTH_MODELS (default: deepseek-mla), BENCH_GEN decode
#                  steps after a D-token context (archc: a D-token prompt, then
#                  -n BENCH_GEN+1; llama-bench -p 0 -n BENCH_GEN -d D), in a
#                  second table (default 0: off)
#   BENCH_BUILD, BENCH_JOBS    archc build dir (build-bench), make jobs (2)
#   LLAMA_BENCH, LLAMA_QUANTIZE, LLAMA_CPP_DIR   see above
#   BENCH_NO_CEILINGS=1        skip bench_ceilings
#
# Python: gguf, numpy, pyyaml (pip install gguf numpy pyyaml) for the GGUFs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BENCH_BUILD:-build-bench}
WORK=${BENCH_WORK:-/tmp/archc-vs-llamacpp}
MODELS=${BENCH_MODELS:-qwen3-0.6b qwen3-moe deepseek-mla}
DTYPES=${BENCH_DTYPES:-f32 bf16 bf16p}
REPS=${BENCH_REPS:-3}
[ "$REPS" -ge 1 ] 2>/dev/null || { echo "error: BENCH_REPS must be a number >= 1" >&2; exit 2; }
THREADS=${BENCH_THREADS:-1 2}
PP=${BENCH_PROMPT:-128}
DEPTH=${BENCH_DEPTH:-0}
DEPTH_MODELS=${BENCH_DEPTH_MODELS:-deepseek-mla}
TG=${BENCH_GEN:-64}
JOBS=${BENCH_JOBS:-2}
mkdir -p "$WORK"
# OpenBLAS does not recognise Zen 4 and would take its AVX2 kernels there; name
# SkylakeX (AVX-512) only where the CPU has AVX-512: on an AVX2-only CPU those
# kernels die with SIGILL (numpy's bundled OpenBLAS in the checks below included).
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX; fi

say() { printf '%s\n' "$*" >&2; }

# ── 1. archc
say "== building archc in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target archc bench_ceilings >/dev/null
ARCHC=$ROOT/$BUILD/archc

# ── llama.cpp (the peer)
LB=${LLAMA_BENCH:-}
LQ=${LLAMA_QUANTIZE:-}
if [ -z "$LB" ]; then
  LDIR=${LLAMA_CPP_DIR:-}
  [ -n "$LDIR" ] || { [ -f "$ROOT/../llama.cpp/CMakeLists.txt" ] && LDIR=$ROOT/../llama.cpp; } || true
  if [ -n "$LDIR" ] && [ -f "$LDIR/CMakeLists.txt" ]; then
    if [ ! -x "$LDIR/build/bin/llama-bench" ]; then
      say "== building llama-bench and llama-quantize in $LDIR/build (Release, -j$JOBS)"
      cmake -S "$LDIR" -B "$LDIR/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
      cmake --build "$LDIR/build" -j"$JOBS" --target llama-bench llama-quantize >/dev/null
    fi
    LB=$LDIR/build/bin/llama-bench
    [ -n "$LQ" ] || LQ=$LDIR/build/bin/llama-quantize
  fi
fi
if [ -n "$LB" ] && [ ! -x "$LB" ]; then say "warning: LLAMA_BENCH=$LB is not an executable"; LB=; fi
[ -n "$LQ" ] && [ ! -x "$LQ" ] && LQ=
if [ -n "$LB" ] && ! python3 -c 'import gguf, numpy, yaml' 2>/dev/null; then
  say "warning: python packages gguf/numpy/pyyaml missing (pip install gguf numpy pyyaml): no GGUFs, no llama.cpp peer"
  LB=
fi
if [ -z "$LB" ]; then
  say "note: llama.cpp not found: running archc alone.  To compare, get llama.cpp's source beside"
  say "      this checkout (../llama.cpp, or set LLAMA_CPP_DIR=...) and this script builds llama-bench,"
  say "      or point LLAMA_BENCH=/path/to/llama-bench at a build (cmake -DGGML_NATIVE=ON -DLLAMA_CURL=OFF)."
fi

# the same-model check: llama_logits.c against llama.cpp's libllama and headers
LL=
if [ -n "$LB" ]; then
  LBDIR=$(cd "$(dirname "$LB")" && pwd)
  SRC=${LDIR:-$LBDIR/../..}
  if [ -f "$LBDIR/libllama.so" ] && [ -f "$SRC/include/llama.h" ]; then
    LL=$WORK/llama_logits
    ${CC:-cc} -O1 bench/llama_logits.c -I"$SRC/include" -I"$SRC/ggml/include" -L"$LBDIR" -lllama \
      -Wl,-rpath,"$LBDIR" -o "$LL" 2>/dev/null || { say "note: could not build bench/llama_logits.c: no same-model check"; LL=; }
  else
    say "note: no libllama.so / llama.h beside $LB: no same-model check"
  fi
fi

model_yaml() {
  case $1 in
    qwen3-0.6b) echo examples/qwen3-0.6b.yaml ;;
    qwen3-moe) echo bench/qwen3-30b-a3b-2l.yaml ;;
    deepseek-mla) echo bench/deepseek-mla.yaml ;;
    *.yaml) echo "$1" ;;
    *) say "error: unknown model $1 (qwen3-0.6b, qwen3-moe, deepseek-mla or a .yaml)"; exit 2 ;;
  esac
}
ckpt_dtype() { case $1 in bf16|bf16p) echo bf16 ;; *) echo f32 ;; esac; }
quantised() { case $1 in q8_0|q4_0|mxfp4|fp8) return 0 ;; *) return 1 ;; esac; }
# archc's format for each row: q8_0 / q4_0 rows run archc's own int8 / int4
# (archc quantize of the same f32 weights; blocks of 32, as Q8_0 / Q4_0)
archc_fmt() { case $1 in q8_0) echo int8 ;; q4_0) echo int4 ;; *) echo "$1" ;; esac; }
archc_weights() { if quantised "$1"; then echo "$WORK/weights-$2-$(archc_fmt "$1")"; else echo "$WORK/weights-$2-$(ckpt_dtype "$1")"; fi; }
# the GGUF llama.cpp runs for a row, and archc's extra flags
gguf_of() { case $1 in bf16p) echo "$WORK/$2-bf16.gguf" ;; *) echo "$WORK/$2-$1.gguf" ;; esac; }
archc_flags() { case $1 in bf16p) echo "--precision bf16" ;; esac; }

# ── 2. weights, GGUFs, archc binaries
for m in $MODELS; do
  Y=$(model_yaml "$m"); n=$(basename "$Y" .yaml)
  for d in $DTYPES; do
    case $d in f32|bf16|bf16p|q8_0|q4_0|mxfp4|fp8) ;; *) say "error: unknown dtype $d (f32 bf16 bf16p q8_0 q4_0 mxfp4 fp8)"; exit 2 ;; esac
    cd_=$(ckpt_dtype "$d"); W=$WORK/weights-$n-$cd_
    if [ ! -f "$W/model.safetensors" ]; then
      say "== random weights $W"
      "$ARCHC" init-weights "$Y" -o "$W" --dtype "$cd_" --seed 1 >/dev/null
    fi
    if [ "$d" = f32 ] || [ "$d" = bf16 ] || [ "$d" = bf16p ]; then
      say "== archc binary $WORK/archc-$n-$d"
      "$ARCHC" "$Y" --weights-format="$cd_" -o "$WORK/archc-$n-$d" >/dev/null
      "$ARCHC" "$Y" --weights-format="$cd_" --emit=ir 2>/dev/null | sed -nE 's/.*weight bytes per decoded token: ([0-9]+).*/\1/p' > "$WORK/bytes-$n-$d"
    else
      Q=$(archc_weights "$d" "$n")
      if [ ! -f "$Q/config.json" ]; then
        say "== archc quantize --format $(archc_fmt "$d") $Q"
        "$ARCHC" quantize "$W" -o "$Q" --format "$(archc_fmt "$d")" >/dev/null
      fi
      say "== archc binary $WORK/archc-$n-$d ($(archc_fmt "$d"))"
      # import reads back the config.json init-weights wrote; should that
      # fail (a description its family's config cannot carry: init-weights
      # warns), the row runs llama.cpp alone
      if "$ARCHC" import "$Q" -o "$WORK/$n-$d.yaml" >/dev/null; then
        "$ARCHC" "$WORK/$n-$d.yaml" -o "$WORK/archc-$n-$d" >/dev/null
        "$ARCHC" "$WORK/$n-$d.yaml" --emit=ir 2>/dev/null | sed -nE 's/.*weight bytes per decoded token: ([0-9]+).*/\1/p' > "$WORK/bytes-$n-$d"
      else
        say "warning: archc import $Q failed: no archc row for $n $d"
        rm -f "$WORK/archc-$n-$d"
      fi
    fi
    if [ -n "$LB" ]; then
      G=$WORK/$n-$cd_.gguf
      if [ ! -f "$G" ]; then
        say "== GGUF $G"
        python3 bench/gguf_from_hf.py "$Y" "$W" "$G.tmp" >/dev/null && mv "$G.tmp" "$G"
      fi
      if [ "$d" = q8_0 ] || [ "$d" = q4_0 ] || [ "$d" = mxfp4 ]; then
        if [ -z "$LQ" ]; then say "warning: no llama-quantize: skipping $d"; continue; fi
        if [ "$d" = mxfp4 ]; then   # every matrix MXFP4 (its default mix of a dense model is Q8_0)
          [ -f "$WORK/$n-$d.gguf" ] || { say "== quantize $WORK/$n-$d.gguf"; "$LQ" --pure "$G" "$WORK/$n-$d.gguf" MXFP4_MOE >/dev/null 2>&1; }
        else
          [ -f "$WORK/$n-$d.gguf" ] || { say "== quantize $WORK/$n-$d.gguf"; "$LQ" "$G" "$WORK/$n-$d.gguf" "${d^^}" >/dev/null 2>&1; }
        fi
      fi
    fi
  done
done

# ── same model? last-position logits of an 8-token prompt, archc vs llama.cpp
CHK=$WORK/check.txt
: > "$CHK"
if [ -n "$LL" ]; then
  for m in $MODELS; do
    Y=$(model_yaml "$m"); n=$(basename "$Y" .yaml)
    for d in $DTYPES; do
      { [ "$d" = f32 ] || [ "$d" = bf16 ]; } || continue
      [ -f "$WORK/$n-$d.gguf" ] || continue
      "$WORK/archc-$n-$d" --weights "$WORK/weights-$n-$d" --tokens 1000,1001,1002,1003,1004,1005,1006,1007 -n 1 \
        --threads 1 --logits "$WORK/check-archc.f32" >/dev/null 2>&1 || continue
      "$LL" "$WORK/$n-$d.gguf" "$WORK/check-llama.f32" 1000,1001,1002,1003,1004,1005,1006,1007 >/dev/null 2>&1 || continue
      python3 -c '
import sys, numpy as np
a = np.fromfile(sys.argv[1], np.float32); l = np.fromfile(sys.argv[2], np.float32)
a = a.reshape(-1, l.size)[-1]
print("%-14s %-5s corr=%.6f max_abs_diff/max_abs=%.2e argmax %s" % (sys.argv[3], sys.argv[4],
      np.corrcoef(a, l)[0, 1], np.abs(a - l).max() / np.abs(a).max(), "equal" if a.argmax() == l.argmax() else "DIFFERS"))
' "$WORK/check-archc.f32" "$WORK/check-llama.f32" "$m" "$d" >> "$CHK"
    done
  done
fi

# ── ceilings (before)
CEIL=$WORK/ceilings.txt
: > "$CEIL"
maxthr=$(printf '%s\n' $THREADS | sort -n | tail -1)
if [ -z "${BENCH_NO_CEILINGS:-}" ]; then
  say "== ceilings (before)"
  "$ROOT/$BUILD/bench_ceilings" "$maxthr" >> "$CEIL"
fi

# ── 3. interleaved runs
PROMPT=$(seq -s, 1000 $((999 + PP)))
RES=$WORK/results.txt
: > "$RES"
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (b + 0 > a + 0 ? b : a) }'; }
# a / b, or nothing when either is missing or zero (one repetition's ratio)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.4f", a / b }'; }
# the median of the numbers given (- when none): of the per-repetition
# ratios, which a minute of slow memory on one side moves less than the best-of
median() { printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else printf "%.4f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -nE "s/.*$1=([0-9.]+).*/\\1/p" <<<"$2" | head -1; }
# avg_ts of the llama-bench jsonl line with n_prompt=$1 n_gen=$2 (and n_depth=$3, default 0)
llama_ts() { python3 -c '
import json, sys
p, g, d = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"): continue
    j = json.loads(line)
    if j.get("n_prompt") == p and j.get("n_gen") == g and j.get("n_depth", 0) == d: print(j["avg_ts"])
' "$1" "$2" "${3:-0}"; }
RESD=$WORK/results-depth.txt
: > "$RESD"
# llama-bench ARGS…, its jsonl on stdout.  When it fails (seen on a Xeon with
# AMX: llama.cpp 0.3.36's AMX repack of Q8_0 weights segfaults) it runs again
# with --repack 0 (llama.cpp's plain CPU kernels), and that is noted under the
# table, so a row is never llama.cpp's crash read as 0 tok/s.
REPACK_NOTE=$WORK/llama-repack.txt
: > "$REPACK_NOTE"
llama_bench() {
  local what=$1 out; shift
  if out=$("$LB" "$@" 2>/dev/null) && [ -n "$out" ]; then printf '%s\n' "$out"; return; fi
  out=$("$LB" "$@" --repack 0 2>/dev/null || true)
  if [ -n "$out" ]; then
    grep -qx "$what" "$REPACK_NOTE" || echo "$what" >> "$REPACK_NOTE"
    printf '%s\n' "$out"
  fi
}

for m in $MODELS; do
  Y=$(model_yaml "$m"); n=$(basename "$Y" .yaml)
  for d in $DTYPES; do
    G=$(gguf_of "$d" "$n")
    W=$(archc_weights "$d" "$n")
    have_archc=0; [ -x "$WORK/archc-$n-$d" ] && have_archc=1
    have_llama=0; [ -n "$LB" ] && [ -f "$G" ] && have_llama=1
    for t in $THREADS; do
      apf=0; adc=0; lpf=0; ldc=0; rpp=(); rtg=()
      for rep in $(seq 1 "$REPS"); do
        say "== $n $d threads=$t rep $rep"
        ap=; ad=; lp=; ld=
        if [ $have_archc = 1 ]; then
          l=$("$WORK/archc-$n-$d" --weights "$W" --tokens "$PROMPT" -n 1 --bench --warmup --threads "$t" $(archc_flags "$d") 2>/dev/null | grep '^bench ' || true)
          ap=$(field prefill_tok_s "$l"); apf=$(max "$apf" "$ap")
          l=$("$WORK/archc-$n-$d" --weights "$W" --tokens 1000 -n $((TG + 1)) --bench --warmup --threads "$t" $(archc_flags "$d") 2>/dev/null | grep '^bench ' || true)
          ad=$(field decode_tok_s "$l"); adc=$(max "$adc" "$ad")
        fi
        if [ $have_llama = 1 ]; then
          out=$(llama_bench "$n-$d" -m "$G" -t "$t" -p "$PP" -n "$TG" -r 1 -o jsonl)
          lp=$(llama_ts "$PP" 0 <<<"$out"); lpf=$(max "$lpf" "$lp")
          ld=$(llama_ts 0 "$TG" <<<"$out"); ldc=$(max "$ldc" "$ld")
        fi
        rpp+=("$(ratio "$ap" "$lp")"); rtg+=("$(ratio "$ad" "$ld")")
      done
      [ $have_archc = 1 ] || { apf=-; adc=-; }
      [ $have_llama = 1 ] || { lpf=-; ldc=-; }
      echo "$m $d $t $apf $adc $lpf $ldc $(median "${rpp[@]}") $(median "${rtg[@]}")" >> "$RES"
      # decode at long context (BENCH_DEPTH), interleaved the same way
      if [ "$DEPTH" -gt 0 ] 2>/dev/null && [[ " $DEPTH_MODELS " == *" $m "* ]]; then
        ctx=$(seq -s, 1000 $((999 + DEPTH))); aldc=0; lldc=0
        for rep in $(seq 1 "$REPS"); do
          say "== $n $d threads=$t depth $DEPTH rep $rep"
          if [ $have_archc = 1 ]; then
            l=$("$WORK/archc-$n-$d" --weights "$W" --tokens "$ctx" -n $((TG + 1)) --bench --warmup --threads "$t" $(archc_flags "$d") 2>/dev/null | grep '^bench ' || true)
            aldc=$(max "$aldc" "$(field decode_tok_s "$l")")
          fi
          if [ $have_llama = 1 ]; then
            out=$(llama_bench "$n-$d" -m "$G" -t "$t" -p 0 -n "$TG" -d "$DEPTH" -r 1 -o jsonl)
            lldc=$(max "$lldc" "$(llama_ts 0 "$TG" "$DEPTH" <<<"$out")")
          fi
        done
        [ $have_archc = 1 ] || aldc=-
        [ $have_llama = 1 ] || lldc=-
        echo "$m $d $t $aldc $lldc" >> "$RESD"
      fi
    done
  done
done

if [ -z "${BENCH_NO_CEILINGS:-}" ]; then
  say "== ceilings (after)"
  "$ROOT/$BUILD/bench_ceilings" "$maxthr" >> "$CEIL"
fi

# ── 4. report
echo
echo "== archc vs llama.cpp: prefill $PP tokens, decode $TG steps from an empty context, best of $REPS, interleaved"
echo "cpu: $(lscpu | sed -nE 's/^Model name: *//p' | head -1) ($(nproc) cpus visible; $(lscpu | sed -nE 's/^L3 cache: *//p' | head -1) L3)"
grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && echo "isa: AVX-512 with BF16$(grep -q avx512_vnni /proc/cpuinfo && echo ' and VNNI')"
if [ -n "$LB" ]; then
  ver=$("$LB" --version 2>&1 | head -2 | tr '\n' ' ' || true)
  echo "llama.cpp: $LB ${ver:+($ver)}"
fi
# archc_tg_GB/s: archc's decode tok/s × its weight bytes per decoded token (archc --emit=ir),
# and that as a share of the measured read ceiling at the same thread count (bench_ceilings)
# pp_ratio / tg_ratio: best ÷ best; pp_med / tg_med: the median of each repetition's
# archc ÷ llama.cpp, the pairs run back to back (steadier on a machine whose memory speed wanders)
printf '%-14s %-5s %-3s %12s %12s %12s %12s %9s %9s %7s %7s %14s\n' model dtype thr archc_pp_t/s archc_tg_t/s llama_pp_t/s llama_tg_t/s pp_ratio tg_ratio pp_med tg_med archc_tg_GB/s
while read -r m d t apf adc lpf ldc mpp mtg; do
  n=$(basename "$(model_yaml "$m")" .yaml)
  bytes=$(cat "$WORK/bytes-$n-$d" 2>/dev/null || true)
  ceil=$(sed -nE "s/^ceiling read_bandwidth_gb_s=([0-9.]+) threads=$t\$/\1/p" "$CEIL" 2>/dev/null | sort -g | tail -1)
  awk -v m="$m" -v d="$d" -v t="$t" -v apf="$apf" -v adc="$adc" -v lpf="$lpf" -v ldc="$ldc" -v bytes="${bytes:-0}" -v ceil="${ceil:-0}" \
    -v mpp="${mpp:--}" -v mtg="${mtg:--}" \
    'function r(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2fx", a / b) }
    function f(x) { return x == "-" ? "-" : sprintf("%.1f", x) }
    function x(v) { return v == "-" ? "-" : sprintf("%.2fx", v) }
    function bw() { if (adc == "-" || bytes + 0 == 0) return "-"; g = adc * bytes / 1e9
                    return ceil + 0 > 0 ? sprintf("%.1f (%.2f)", g, g / ceil) : sprintf("%.1f", g) }
    BEGIN { printf "%-14s %-5s %-3s %12s %12s %12s %12s %9s %9s %7s %7s %14s\n", m, d, t, f(apf), f(adc), f(lpf), f(ldc), r(apf, lpf), r(adc, ldc), x(mpp), x(mtg), bw() }'
done < "$RES"
echo "(archc_tg_GB/s: decode tok/s × weight bytes per decoded token; in brackets its share of the read ceiling at that thread count)"
if [ -s "$REPACK_NOTE" ]; then
  echo "llama.cpp failed with its repacked weights (AMX / CPU_REPACK buffers) on: $(tr '\n' ' ' < "$REPACK_NOTE")"
  echo "  those rows are llama-bench --repack 0 (its plain CPU kernels)"
fi
grep -qw amx_bf16 /proc/cpuinfo 2>/dev/null && echo "amx: the CPU has AMX; archc's bf16p prefill runs on it (ARCHC_AMX=0 to compare without)"
if [ -s "$RESD" ]; then
  echo
  echo "== decode at long context: $TG steps after a $DEPTH-token context, best of $REPS, interleaved"
  printf '%-14s %-5s %-3s %14s %14s %9s\n' model dtype thr archc_tg_t/s llama_tg_t/s tg_ratio
  while read -r m d t a l; do
    awk -v m="$m" -v d="$d" -v t="$t" -v a="$a" -v l="$l" \
      'BEGIN { r = (a == "-" || l == "-" || l + 0 == 0) ? "-" : sprintf("%.2fx", a / l)
               printf "%-14s %-5s %-3s %14s %14s %9s\n", m, d, t, a == "-" ? "-" : sprintf("%.1f", a), l == "-" ? "-" : sprintf("%.1f", l), r }'
  done < "$RESD"
fi
if [ -s "$CHK" ]; then
  echo "same model? last-position logits, 8-token prompt, archc vs llama.cpp (llama.cpp keeps an f16 KV cache):"
  sed 's/^/  /' "$CHK"
fi
if [ -s "$CEIL" ]; then
  echo "ceilings (best of before/after):"
  awk '$1 == "ceiling" { split($2, a, "="); k = a[1] " " $3; if (a[2] ~ /^[0-9.]+$/ && a[2] + 0 > v[k] + 0) v[k] = a[2] } END { for (k in v) print "  " k " " v[k] }' "$CEIL" | sort
fi
