#!/usr/bin/env bash
# tests/edge/run_edge.sh ARCHC COMPARE WORK CHECK
#
# Edge builds (codegen/build.c, codegen/embed.c, runtime/isa.c) on the bundled
# tiny model, one CHECK per test:
#   embed     --embed-weights: runs without --weights, from another directory,
#             with the embedded tokenizer; logits byte-identical to the plain
#             binary; a damaged trailer is a warning, not a crash
#   run       `archc run` prints the tokens and writes the logits of the built
#             binary (within 1e-5; the JIT and the built binary are compiled alike);
#             `archc run edited.c` runs an emitted, then edited, C file
#   variants  a --target=x86_64-linux-gnu binary: every variant this CPU has
#             (ARCHC_ISA=…, named by the binary on stderr) gives the native build's tokens and logits within
#             1e-5; an unknown or unsupported variant is a clear error
#   cache     a second --target build takes the runtime's objects from the
#             cache (ARCHC_CACHE_DIR) and gives the same tokens; a pruned entry
#             is rebuilt; ARCHC_CACHE_DIR=off writes no cache
#   errors    --target/--embed-weights misuse gives one clear line and no output
set -euo pipefail
ARCHC=$1; COMPARE=$2; WORK=$3; CHECK=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TINY=$ROOT/examples/tiny-llama.yaml
CK=$ROOT/examples/tiny-llama
V=$(grep -o '"vocab_size": *[0-9]*' "$CK/config.json" | grep -o '[0-9]*$')
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
fail() { echo "FAIL: $*"; exit 1; }

"$ARCHC" "$TINY" -o plain
./plain --weights "$CK" --tokens 1,2,3 -n 8 --print-ids --logits plain.bin --decode-logits plain_dec.bin > plain.txt 2>/dev/null
WANT=$(tail -n 1 plain.txt)

case $CHECK in
embed)
  "$ARCHC" "$TINY" -o emb --embed-weights "$CK"
  mkdir -p elsewhere; cp emb elsewhere/; cd elsewhere
  ./emb --tokens 1,2,3 -n 8 --print-ids --logits ../emb.bin --decode-logits ../emb_dec.bin > ../emb.txt 2>/dev/null
  cd ..
  [ "$(tail -n 1 emb.txt)" = "$WANT" ] || fail "embedded binary: tokens $(tail -n 1 emb.txt), plain: $WANT"
  cmp plain.bin emb.bin && cmp plain_dec.bin emb_dec.bin || fail "embedded binary: logits differ from the plain binary"
  elsewhere/emb --prompt "Once upon a time" -n 4 --print-ids > p_emb.txt 2>/dev/null
  ./plain --weights "$CK" --prompt "Once upon a time" -n 4 --print-ids > p_plain.txt 2>/dev/null
  cmp p_emb.txt p_plain.txt || fail "embedded tokenizer: --prompt output differs"
  elsewhere/emb --mmap --tokens 1,2,3 -n 8 --print-ids | tail -n 1 | grep -qx "$WANT" || fail "embedded binary with --mmap"
  # --weights still wins over the embedded checkpoint
  elsewhere/emb --weights "$CK" --tokens 1,2,3 -n 8 --print-ids | tail -n 1 | grep -qx "$WANT" || fail "embedded binary with --weights"
  # a damaged trailer: a warning, then the usual error for a missing --weights
  cp emb bad; printf 'ARCHCEMB\377\377\377\377\377\377\377\377\0\0\0\0\0\0\0\0\1\0\0\0\1\0\0\0' | dd of=bad bs=1 seek=$(( $(stat -c %s bad) - 32 )) conv=notrunc 2>/dev/null
  set +e; ./bad --tokens 1 -n 1 > bad.out 2> bad.err; rc=$?; set -e
  [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "damaged trailer: exit status $rc"
  grep -q "embedded files are damaged" bad.err && grep -q -- "--weights PATH is required" bad.err || fail "damaged trailer: $(cat bad.err)"
  # an embedding directory without weights is refused and leaves no output
  mkdir -p empty; set +e; "$ARCHC" "$TINY" -o noemb --embed-weights empty 2> noemb.err; rc=$?; set -e
  [ $rc -ne 0 ] && ! [ -e noemb ] && grep -q "no \*.safetensors" noemb.err || fail "--embed-weights without safetensors: rc $rc, $(cat noemb.err)"
  echo "ok: embedded weights: same tokens ($WANT) and byte-identical logits; prompt, --mmap, --weights, damaged trailer"
  ;;
run)
  "$ARCHC" run "$TINY" --weights "$CK" --tokens 1,2,3 -n 8 --print-ids --logits run.bin --decode-logits run_dec.bin > run.txt 2>/dev/null
  [ "$(tail -n 1 run.txt)" = "$WANT" ] || fail "archc run: tokens $(tail -n 1 run.txt), built binary: $WANT"
  "$COMPARE" plain.bin run.bin "$V" 1e-5
  "$COMPARE" plain_dec.bin run_dec.bin "$V" 1e-5
  cmp -s plain.bin run.bin && echo "(logits byte-identical)"
  # compile options before the binary's options; a compile error is the compiler's error
  "$ARCHC" run "$TINY" --disable-pass=memplan --weights "$CK" --tokens 1,2,3 -n 8 --print-ids | tail -n 1 | grep -qx "$WANT" \
    || fail "archc run --disable-pass=memplan"
  set +e; "$ARCHC" run "$TINY" --weights "$CK" --bogus-flag > /dev/null 2> bogus.err; rc=$?; set -e
  [ $rc -ne 0 ] && grep -q "bogus-flag" bogus.err || fail "archc run: a bad binary flag: rc $rc, $(cat bogus.err)"
  # an emitted C file, edited: run as it is (the kernel-work loop)
  "$ARCHC" "$TINY" -o edited.c
  sed -i 's/return rt_main(argc, argv, &archc_model);/fputs("edited\\n", stderr); return rt_main(argc, argv, \&archc_model);/' edited.c
  "$ARCHC" run edited.c --weights "$CK" --tokens 1,2,3 -n 8 --print-ids > ed.txt 2> ed.err
  [ "$(tail -n 1 ed.txt)" = "$WANT" ] && grep -qx edited ed.err || fail "archc run edited.c: $(tail -n 1 ed.txt) / $(head -c 300 ed.err)"
  set +e; "$ARCHC" run edited.c --disable-pass=memplan --weights "$CK" > /dev/null 2> ed2.err; rc=$?; set -e
  [ $rc -eq 2 ] && grep -q "is C already" ed2.err || fail "archc run X.c --disable-pass: rc $rc, $(cat ed2.err)"
  echo "ok: archc run: same tokens ($WANT) and logits as the built binary; an edited .c runs as it is"
  ;;
variants)
  "$ARCHC" "$TINY" -o portable --target=x86_64-linux-gnu
  file portable 2>/dev/null | grep -q "statically linked" || ! command -v file >/dev/null || fail "--target build is not static"
  n=0
  for isa in x86-64-v4+bf16+vnni x86-64-v4 x86-64-v3+vnni x86-64-v3 x86-64; do
    if ! ARCHC_ISA=$isa ./portable --weights "$CK" --tokens 1 -n 1 > /dev/null 2> isa.err; then
      grep -q "this CPU lacks" isa.err || fail "ARCHC_ISA=$isa: $(cat isa.err)"
      echo "($isa: not on this CPU)"; continue
    fi
    ARCHC_ISA=$isa ./portable --weights "$CK" --tokens 1,2,3 -n 8 --print-ids --bench --logits p.bin --decode-logits p_dec.bin > p.txt 2> p.err
    grep -qx "isa: $isa" p.err || fail "ARCHC_ISA=$isa: the binary says $(grep '^isa:' p.err)"
    [ "$(grep -v "^bench" p.txt | tail -n 1)" = "$WANT" ] || fail "$isa: tokens $(grep -v "^bench" p.txt | tail -n 1), native: $WANT"
    echo "$isa:"; "$COMPARE" plain.bin p.bin "$V" 1e-5; "$COMPARE" plain_dec.bin p_dec.bin "$V" 1e-5
    n=$((n + 1))
  done
  [ $n -ge 1 ] || fail "no variant ran"
  BEST=$(./portable --weights "$CK" --tokens 1 -n 1 --bench 2>&1 >/dev/null | grep '^isa:')
  set +e; ARCHC_ISA=pentium ./portable --weights "$CK" --tokens 1 > /dev/null 2> isa.err; rc=$?; set -e
  [ $rc -eq 2 ] && grep -q "no such variant" isa.err || fail "ARCHC_ISA=pentium: rc $rc, $(cat isa.err)"
  echo "ok: $n variants of the portable binary agree with the native build (it picks \"$BEST\" here)"
  ;;
cache)
  export ARCHC_CACHE_DIR=$WORK/cache
  ARCHC_VERBOSE=1 "$ARCHC" "$TINY" -o t1 --target=x86_64-linux-gnu 2> v1.err
  ! grep -q "objects from" v1.err || fail "a first build found a cache entry"
  [ "$(ls "$ARCHC_CACHE_DIR" | wc -l)" = 1 ] || fail "the cache holds $(ls "$ARCHC_CACHE_DIR")"
  ARCHC_VERBOSE=1 "$ARCHC" "$TINY" -o t2 --target=x86_64-linux-gnu 2> v2.err
  grep -q "objects from $ARCHC_CACHE_DIR/rt-x86_64-linux-gnu-" v2.err || fail "the second build did not use the cache"
  [ "$(grep -c -- ' -c .*runtime/' v2.err)" = 0 ] || fail "the second build compiled runtime sources"
  for b in t1 t2; do ./$b --weights "$CK" --tokens 1,2,3 -n 8 --print-ids 2>/dev/null | tail -n 1 | grep -qx "$WANT" || fail "$b: tokens"; done
  rm -f "$ARCHC_CACHE_DIR"/rt-*/rt_util.c.o
  ARCHC_VERBOSE=1 "$ARCHC" "$TINY" -o t3 --target=x86_64-linux-gnu 2> v3.err
  ! grep -q "objects from" v3.err && ./t3 --weights "$CK" --tokens 1,2,3 -n 8 --print-ids 2>/dev/null | tail -n 1 | grep -qx "$WANT" \
    || fail "a pruned cache entry"
  ARCHC_CACHE_DIR=off "$ARCHC" "$TINY" -o t4 --target=x86_64-linux-gnu
  [ "$(ls "$ARCHC_CACHE_DIR" | wc -l)" = 1 ] || fail "ARCHC_CACHE_DIR=off wrote to the cache"
  echo "ok: the runtime's objects of a target build are cached, reused and rebuilt when pruned"
  ;;
errors)
  set +e
  "$ARCHC" "$TINY" -o x --target=riscv64-linux-gnu 2> e1; r1=$?
  "$ARCHC" "$TINY" -o x.c --target=x86_64-linux-gnu 2> e2; r2=$?
  "$ARCHC" "$TINY" -o x --embed-weights 2> e3; r3=$?
  "$ARCHC" "$TINY" -o x --cc=/nonexistent/cc 2> e4; r4=$?
  set -e
  [ $r1 -eq 2 ] && grep -q "expected one of x86_64-linux-gnu, aarch64-linux-gnu" e1 || fail "unknown target: $(cat e1)"
  [ $r2 -eq 2 ] && grep -q "build an executable" e2 || fail "--target with .c: $(cat e2)"
  [ $r3 -eq 2 ] && grep -q "needs a checkpoint directory" e3 || fail "--embed-weights without DIR: $(cat e3)"
  [ $r4 -ne 0 ] && grep -q "cannot run the C compiler '/nonexistent/cc'" e4 || fail "--cc=/nonexistent/cc: $(cat e4)"
  for f in x x.c x.archc.c x.c.archc.c; do ! [ -e $f ] || fail "a failed build left $f"; done
  echo "ok: misuse of --target, --embed-weights and --cc is one clear error and leaves nothing"
  ;;
*) fail "unknown check $CHECK" ;;
esac
