#!/usr/bin/env bash
# tests/frontend/run_error_tests.sh ARCHC DIR
#
# Golden diagnostics: for every DIR/NAME.err, `archc --emit=ir NAME.yaml` must exit
# non-zero and its first stderr line must be exactly the .err file (file:line:col:
# error: message).  Run from DIR so paths in the messages are relative.
set -uo pipefail
ARCHC=$(realpath "$1"); cd "$2"
pass=0; fail=0
for e in *.err; do
  y=${e%.err}.yaml
  "$ARCHC" --emit=ir "$y" > /dev/null 2> /tmp/archc-err-$$; rc=$?
  got=$(head -1 /tmp/archc-err-$$)
  want=$(cat "$e")
  if [ $rc -eq 0 ]; then echo "FAIL $y: exit 0"; fail=$((fail + 1))
  elif [ "$got" != "$want" ]; then echo "FAIL $y"; echo "  want: $want"; echo "  got:  $got"; fail=$((fail + 1))
  else pass=$((pass + 1)); fi
done
rm -f /tmp/archc-err-$$
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
