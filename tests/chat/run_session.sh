#!/usr/bin/env bash
# tests/chat/run_session.sh ARCHC WORK
#
# --chat on a compiled model (tests/fixtures/llama, random weights, greedy) with
# the tokenizer and ChatML template of tests/chat/session/, turns piped on stdin:
#  - every reply is the one a fresh run of the whole rendered conversation gives
#    (--render-chat, then --prompt with -n): keeping the KV cache across turns
#    changes nothing;
#  - the second turn prefills only what follows the cached prefix;
#  - /reset starts over (the first reply comes again), /exit ends, empty lines are skipped;
#  - a conversation that outgrows the context is refused with a message, or
#    slides with --slide.
set -euo pipefail
ARCHC=$1; WORK=$2
DIR=$(cd "$(dirname "$0")" && pwd)
FX=$DIR/../fixtures/llama
rm -rf "$WORK"; mkdir -p "$WORK/w"
cp "$FX/config.json" "$FX/model.safetensors" "$DIR"/session/*.json "$WORK/w/"
"$ARCHC" import "$WORK/w/config.json" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m"
M="$WORK/m --weights $WORK/w --threads 1"
N=6
printf 'Hello there\n\nHow are you?\n/reset\nHello there\n/exit\nnever read\n' \
  | $M --chat -n $N --print-ids > "$WORK/out.txt" 2> "$WORK/err.txt"
cat "$WORK/err.txt"
mapfile -t replies < "$WORK/out.txt"
mapfile -t ids < <(grep '^ids:' "$WORK/err.txt" | sed 's/^ids: *//')
mapfile -t pre < <(grep '^prefill:' "$WORK/err.txt")
[ "${#replies[@]}" -eq 3 ] || { echo "FAIL: expected 3 replies, got ${#replies[@]}"; exit 1; }
[ "${#ids[@]}" -eq 3 ] || { echo "FAIL: expected 3 id lines"; exit 1; }
# the reference: each conversation rendered and run from scratch
ref() {  # $1: JSON messages → greedy ids of a fresh run
  printf '%s' "$1" > "$WORK/conv.json"
  "$WORK/m" --weights "$WORK/w" --render-chat "$WORK/conv.json" --add-generation-prompt > "$WORK/prompt.txt"
  $M --prompt "$(cat "$WORK/prompt.txt")" -n $N --print-ids 2>/dev/null | tail -n 1
}
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
prefix_ok() {  # chat ids must be a prefix of the reference (the reference does not stop at <|im_end|>)
  case ",$2," in ",$1,"*) return 0;; esac
  [ -z "$1" ] && return 0
  return 1
}
r1=$(ref '[{"role":"user","content":"Hello there"}]')
prefix_ok "${ids[0]}" "$r1" || { echo "FAIL: turn 1 ids ${ids[0]} vs fresh run $r1"; exit 1; }
r2=$(ref "[{\"role\":\"user\",\"content\":\"Hello there\"},{\"role\":\"assistant\",\"content\":$(json_str "${replies[0]}")},{\"role\":\"user\",\"content\":\"How are you?\"}]")
prefix_ok "${ids[1]}" "$r2" || { echo "FAIL: turn 2 ids ${ids[1]} vs fresh run $r2"; exit 1; }
[ "${ids[2]}" = "${ids[0]}" ] || { echo "FAIL: after /reset the first reply differs"; exit 1; }
reused=$(echo "${pre[1]}" | sed 's/.*tokens, \([0-9]*\) reused.*/\1/')
[ "$reused" -gt 5 ] || { echo "FAIL: turn 2 reused only $reused cached tokens"; exit 1; }
echo "${pre[2]}" | grep -q ' 0 reused' || { echo "FAIL: /reset kept the cache"; exit 1; }
# the context (256 tokens) fills up: refused without --slide, slides with it
long=$(python3 -c 'print(" ".join(["word"] * 20))')
printf '%s\n%s\n%s\n%s\n' "$long" "$long" "$long" "$long" | $M --chat -n 4 > "$WORK/full.txt" 2> "$WORK/full_err.txt" || true
grep -q 'no longer fits the context of 256 tokens' "$WORK/full_err.txt" || { echo "FAIL: no context-full message"; cat "$WORK/full_err.txt"; exit 1; }
printf '%s\n%s\n%s\n%s\n' "$long" "$long" "$long" "$long" | $M --chat -n 4 --slide > "$WORK/slide.txt" 2> "$WORK/slide_err.txt"
[ "$(wc -l < "$WORK/slide.txt")" -eq 4 ] || { echo "FAIL: --slide answered $(wc -l < "$WORK/slide.txt") of 4 turns"; cat "$WORK/slide_err.txt"; exit 1; }
# flags that do not go together
if $M --chat --prompt hi < /dev/null 2> "$WORK/e.txt"; then echo "FAIL: --chat with --prompt accepted"; exit 1; fi
grep -q 'takes its turns from stdin' "$WORK/e.txt"
if $M --prompt hi --system x 2> "$WORK/e.txt"; then echo "FAIL: --system without --chat accepted"; exit 1; fi
echo "ok: --chat replies identical to fresh runs, turn 2 reused $reused cached tokens, /reset, context full and --slide"
