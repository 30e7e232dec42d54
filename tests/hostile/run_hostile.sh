#!/usr/bin/env bash
# tests/hostile/run_hostile.sh ARCHC ROOT WORK [KIND…]
#
# The malformed-input corpus (issue 13): inputs a hostile user would feed archc
# and the binaries it builds.  KIND is any of yaml import output safetensors
# tokenizer cli (default: all).  One `ok:`/`FAIL:` line per case, then
# `N passed, N failed`; exit status non-zero if any case failed.
#
# A case is an input under tests/hostile/KIND/ plus its expectations, either in
# the first lines of the input (`# expect: REGEX`, YAML only) or in a sidecar
# NAME.expect.  Inputs that are big or derived from the tiny checkpoint are
# generated into WORK by gen.py; only their NAME.expect is committed.  Sidecar
# keys, one per line:
#   expect: REGEX   the one stderr line containing `error:` must match (grep -E)
#   reject: REGEX   … and must not match
#   names: STR      … and must contain STR (default: the input's base name)
#   mode: M         error (default): must fail cleanly
#                   either: fail cleanly, or succeed with a sound output (C that
#                           compiles, ids equal to the unmodified run, …)
#                   noinject: any exit, but the file INJECTED must not appear
#   args: …         cli cases: the generated binary's arguments (@W@ = weights
#                   directory, @WF@ = its model.safetensors, @D@ = scratch dir)
#   protect: PATH   cli cases: a file that must be left unchanged
#
# "Fail cleanly" is: non-zero exit, not killed by a signal (exit < 128), within
# the timeout (exit 124 = hang), nothing from a sanitizer, exactly one stderr
# line containing `error:`, naming the input and the place (file:line:col,
# JSON key, tensor, token id, flag), no output file created, an existing output
# file unchanged, and no *.tmp left in the output directory.
set -uo pipefail
ARCHC=$(realpath "$1"); ROOT=$(realpath "$2"); WORK=$3
shift 3
KINDS=${*:-yaml import output safetensors tokenizer cli}
HERE=$ROOT/tests/hostile
mkdir -p "$WORK"; WORK=$(realpath "$WORK")
TO=${HOSTILE_TIMEOUT:-20}
CC=${CC:-cc}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok:   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }

sum() { if [ -f "$1" ]; then cksum < "$1"; elif [ -d "$1" ]; then (cd "$1" && find . | LC_ALL=C sort | cksum); else echo absent; fi; }

# keyval FILE KEY: the value of `KEY:` (or `# KEY:`) lines, first one
keyval() { sed -n -E "s/^(# )?$2: ?//p" "$1" 2>/dev/null | head -1; }

# check NAME MODE EXPECT REJECT NAMES ODIR -- CMD…
# globals: PROTECT (array of files that must be unchanged), ABSENT (must not exist
# afterwards), ON_SUCCESS (shell code judging a successful run in either mode;
# returns non-zero with a reason on stdout)
check() {
  local name=$1 mode=$2 expect=$3 reject=$4 names=$5 odir=$6; shift 7
  local -a before=()
  local p i
  for p in "${PROTECT[@]+"${PROTECT[@]}"}"; do before+=("$(cd "$odir" && sum "$p")"); done
  rm -f "$WORK/INJECTED" "$odir/INJECTED"
  # noinject cases build a whole executable (slow under the sanitizers of the
  # ASan build): a longer limit, and -O0 for the generated C
  local to=$TO
  [ "$mode" = noinject ] && to=${HOSTILE_BUILD_TIMEOUT:-300}
  { ( cd "$odir" && ARCHC_CFLAGS=${ARCHC_CFLAGS:--O0} exec timeout -k 5 "$to" "$@" ) > "$WORK/stdout" 2> "$WORK/stderr" < /dev/null; } 2>/dev/null
  local rc=$? why=""
  # files that must not change, whatever the mode
  i=0
  for p in "${PROTECT[@]+"${PROTECT[@]}"}"; do
    [ "$(cd "$odir" && sum "$p")" = "${before[$i]}" ] || why="${why:+$why; }$(basename "$p") was changed or removed"
    i=$((i + 1))
  done
  if [ -e "$WORK/INJECTED" ] || [ -e "$odir/INJECTED" ]; then why="${why:+$why; }shell injection: INJECTED was created"; fi
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="${why:+$why; }hang: killed after ${to}s"
  elif [ $rc -ge 128 ]; then why="${why:+$why; }crash: killed by signal $((rc - 128))"; fi
  if grep -aqE 'Sanitizer|runtime error:' "$WORK/stderr"; then why="${why:+$why; }sanitizer report"; fi
  local tmps; tmps=$(find "$odir" -maxdepth 1 -name '*.tmp' 2>/dev/null | head -3 | xargs -r -n1 basename | tr '\n' ' ')
  [ -n "$tmps" ] && why="${why:+$why; }stray temporary files: $tmps"
  if [ "$mode" = noinject ]; then
    [ -z "$why" ] && ok "$name (exit $rc, nothing injected)" || bad "$name: $why"
    return
  fi
  if [ $rc -eq 0 ] && [ -z "$why" ]; then
    if [ "$mode" = either ] || [ "$mode" = accept ]; then
      local r; r=$(eval "${ON_SUCCESS:-true}" 2>&1) && { ok "$name (accepted: $(echo ${r:-sound output}))"; return; }
      bad "$name: exit 0 and $r"; return
    fi
    bad "$name: exit 0, expected a clean error$(head -c 200 "$WORK/stderr" | tr '\n' ' ' | sed 's/^./ (stderr: &/;s/.$/&)/')"
    return
  fi
  local line=""
  if [ "$mode" = accept ] && [ $rc -ne 0 ]; then why="${why:+$why; }rejected a valid input (exit $rc)"; fi
  if [ $rc -ne 0 ] && [ "$mode" != accept ]; then
    for p in "${ABSENT[@]+"${ABSENT[@]}"}"; do [ -e "$p" ] && why="${why:+$why; }output $(basename "$p") was created"; done
    local nerr; nerr=$(grep -ac 'error:' "$WORK/stderr")
    line=$(grep -a -m1 'error:' "$WORK/stderr")
    if [ "$nerr" -eq 0 ]; then why="${why:+$why; }no 'error:' line on stderr$(head -c 160 "$WORK/stderr" | tr '\n' ' ' | sed 's/^./ (got: &/;s/.$/&)/')"
    elif [ "$nerr" -gt 1 ]; then why="${why:+$why; }$nerr lines contain 'error:' (expected one)"
    else
      if [ -n "$names" ] && ! grep -aqF -e "$names" <<< "$line"; then why="${why:+$why; }message does not name '$names'"; fi
      if [ -n "$expect" ] && ! grep -aqE -e "$expect" <<< "$line"; then why="${why:+$why; }message does not match /$expect/"; fi
      if [ -n "$reject" ] && grep -aqE -e "$reject" <<< "$line"; then why="${why:+$why; }message matches the wrong diagnosis /$reject/"; fi
    fi
    [ -n "$why" ] && why="$why [$(head -c 220 <<< "${line:-$(head -1 "$WORK/stderr")}")]"
  fi
  [ $rc -eq 0 ] && why="exit 0, expected a clean error; $why"
  [ -z "$why" ] && ok "$name: $(head -c 160 <<< "$line")" || bad "$name: $why"
}

# ── the tiny model, built once
TINY=$ROOT/examples/tiny-llama.yaml
CK=$ROOT/examples/tiny-llama
need_model() {
  [ -x "$WORK/m" ] && return 0
  "$ARCHC" "$TINY" -o "$WORK/m" 2> "$WORK/build.err" || { cat "$WORK/build.err"; return 1; }
  "$WORK/m" --weights "$CK" --tokens 1,2 -n 2 --print-ids 2>/dev/null | tail -1 > "$WORK/ref_ids"
}
gen() { python3 "$HERE/gen.py" "$ROOT" "$WORK/gen" "$@" || { echo "FAIL: gen.py $*"; fail=$((fail + 1)); }; }

# either-mode judges
c_compiles() { # c_compiles FILE.c : the C file exists and compiles
  [ -s "$1" ] || { echo "no C output"; return 1; }
  "$CC" -fsyntax-only -std=c11 -I "$ROOT/runtime" "$1" > "$WORK/cc.err" 2>&1 || { echo "the emitted C does not compile: $(grep -a -m1 -E 'error' "$WORK/cc.err" | head -c 200)"; return 1; }
  echo "emitted C compiles"
}
same_ids() { # the run printed the same ids as the unmodified checkpoint
  [ "$(tail -1 "$WORK/stdout")" = "$(cat "$WORK/ref_ids")" ] || { echo "generated ids $(tail -1 "$WORK/stdout") differ from the reference $(cat "$WORK/ref_ids")"; return 1; }
  echo "same ids as the reference"
}

# ── YAML model descriptions: `archc X.yaml -o out.c` and `archc --emit=ir X.yaml -o out.txt`
run_yaml() {
  gen yaml
  local f name exp in mode
  for exp in "$HERE"/yaml/*.yaml "$HERE"/yaml/*.expect; do
    name=$(basename "${exp%.*}")
    if [ "${exp%.expect}" != "$exp" ]; then
      [ -e "$HERE/yaml/$name.yaml" ] && continue   # sidecar of a committed file: handled with it
      in=$WORK/gen/yaml/$name.yaml
    else in=$exp; [ -e "$HERE/yaml/$name.expect" ] && exp=$HERE/yaml/$name.expect; fi
    mode=$(keyval "$exp" mode); mode=${mode:-error}
    local D=$WORK/yaml/$name; rm -rf "$D"; mkdir -p "$D"
    local expect reject names
    expect=$(keyval "$exp" expect); reject=$(keyval "$exp" reject); names=$(keyval "$exp" names); names=${names:-$name.yaml}
    # C: no output file may appear
    PROTECT=("$in"); ABSENT=("$D/out.c"); ON_SUCCESS="c_compiles '$D/out.c'"
    local extra; extra=$(keyval "$exp" on_success); [ -n "$extra" ] && ON_SUCCESS="$ON_SUCCESS && $extra"
    check "yaml/$name (C)" "$mode" "$expect" "$reject" "$names" "$D" -- "$ARCHC" "$in" -o "$D/out.c"
    # IR: an existing output file must stay as it was
    echo "precious" > "$D/out.txt"
    PROTECT=("$in" "$D/out.txt"); ABSENT=(); ON_SUCCESS="true"
    [ "$mode" = either ] && PROTECT=("$in")
    check "yaml/$name (IR)" "$mode" "$expect" "$reject" "$names" "$D" -- "$ARCHC" --emit=ir "$in" -o "$D/out.txt"
  done
}

# ── archc import: config.json
run_import() {
  gen import
  local exp name in mode
  for exp in "$HERE"/import/*.expect; do
    name=$(basename "${exp%.expect}")
    in=$HERE/import/$name.json; [ -e "$in" ] || in=$WORK/gen/import/$name.json
    mode=$(keyval "$exp" mode); mode=${mode:-error}
    local D=$WORK/import/$name; rm -rf "$D"; mkdir -p "$D"
    local names; names=$(keyval "$exp" names); names=${names:-$name.json}
    PROTECT=("$in"); ABSENT=("$D/out.yaml")
    ON_SUCCESS="'$ARCHC' --emit=ir '$D/out.yaml' > /dev/null 2> '$D/lower.err' && echo 'imported and lowered' || { echo \"the imported YAML does not lower: \$(head -1 '$D/lower.err')\"; false; }"
    check "import/$name" "$mode" "$(keyval "$exp" expect)" "$(keyval "$exp" reject)" "$names" "$D" -- "$ARCHC" import "$in" -o "$D/out.yaml"
  done
}

# ── output paths and file names: each tests/hostile/output/NAME.sh sets CMD, MODE, EXPECT, …
run_output() {
  local f name
  for f in "$HERE"/output/*.sh; do
    name=$(basename "${f%.sh}")
    local D=$WORK/output/$name; rm -rf "$D"; mkdir -p "$D"
    CMD=(); MODE=error; EXPECT=""; REJECT=""; NAMES=""; PROTECT=(); ABSENT=(); ON_SUCCESS=true; ODIR=$D
    # shellcheck disable=SC1090
    . "$f" || { bad "output/$name: setup failed"; cd "$ROOT"; continue; }
    cd "$ROOT"
    check "output/$name" "$MODE" "$EXPECT" "$REJECT" "$NAMES" "$ODIR" -- "${CMD[@]}"
  done
}

# run_generated KIND ON_SUCCESS -- ARGS…: one case per KIND/*.expect, on the
# weights directory gen.py wrote for it (@W@ in ARGS), with the tiny model's binary
run_generated() {
  local kind=$1 on_success=$2; shift 3
  need_model || { bad "$kind: cannot build the tiny model"; return; }
  gen "$kind"
  local exp name a
  for exp in "$HERE"/"$kind"/*.expect; do
    name=$(basename "${exp%.expect}")
    local W=$WORK/gen/$kind/$name mode names
    local -a args=()
    for a in "$@"; do args+=("${a//@W@/$W}"); done
    mode=$(keyval "$exp" mode); mode=${mode:-error}
    names=$(keyval "$exp" names)
    [ "$kind" = safetensors ] && names=${names//@LAST@/$(cat "$WORK/gen/safetensors/truncated_data.tensor")}
    [ "$kind" = tokenizer ] && names=${names:-tokenizer.json}
    PROTECT=(); ABSENT=(); ON_SUCCESS=$on_success
    [ "$kind" = safetensors ] && [ -f "$W/model.safetensors" ] && PROTECT=("$W/model.safetensors")
    check "$kind/$name" "$mode" "$(keyval "$exp" expect)" "$(keyval "$exp" reject)" "$names" "$W" -- "$WORK/m" "${args[@]}"
  done
}

# ── checkpoints for the generated binary of the tiny model
run_safetensors() { run_generated safetensors same_ids -- --weights @W@ --tokens 1,2 -n 2 --print-ids; }

# ── tokenizer.json / qwen.tiktoken next to the weights, read for --prompt
run_tokenizer() { run_generated tokenizer "echo prompt accepted" -- --weights @W@ --prompt "Hello world, hostile input" -n 2; }

# ── the generated binary's command line
run_cli() {
  need_model || { bad "cli: cannot build the tiny model"; return; }
  local exp name
  local W=$WORK/cli-weights
  mkdir -p "$W"
  for exp in "$HERE"/cli/*.expect; do
    name=$(basename "${exp%.expect}")
    for f in model.safetensors tokenizer.json config.json; do   # a case that clobbered them must not spoil the next
      cmp -s "$CK/$f" "$W/$f" || { rm -rf "${W:?}/$f"; cp "$CK/$f" "$W/$f"; }
    done
    local D=$WORK/cli/$name mode args prot; rm -rf "$D"; mkdir -p "$D"
    mode=$(keyval "$exp" mode); mode=${mode:-error}
    args=$(keyval "$exp" args); args=${args//@WF@/$W/model.safetensors}; args=${args//@W@/$W}; args=${args//@D@/$D}
    prot=$(keyval "$exp" protect); prot=${prot//@WF@/$W/model.safetensors}; prot=${prot//@W@/$W}; prot=${prot//@D@/$D}
    PROTECT=(); [ -n "$prot" ] && PROTECT=("$prot")
    for f in model.safetensors tokenizer.json config.json; do [ "$prot" = "$W/$f" ] || PROTECT+=("$W/$f"); done
    ABSENT=(); ON_SUCCESS=$(keyval "$exp" on_success); ON_SUCCESS=${ON_SUCCESS:-"echo accepted"}
    # shellcheck disable=SC2086
    check "cli/$name" "$mode" "$(keyval "$exp" expect)" "$(keyval "$exp" reject)" "$(keyval "$exp" names)" "$D" -- "$WORK/m" $args
  done
}

for k in $KINDS; do
  case $k in
    yaml|import|output|safetensors|tokenizer|cli) "run_$k" ;;
    *) echo "unknown kind '$k'"; exit 2 ;;
  esac
done
[ $fail -eq 0 ] && rm -rf "$WORK/gen/safetensors"   # 4 MB per case: keep only for debugging failures
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
