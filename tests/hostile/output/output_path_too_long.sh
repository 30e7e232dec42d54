# an output path longer than PATH_MAX whose first 4095 bytes name an existing file:
# a truncated OUT.tmp buffer would open (and then delete) that file
cd "$D" || return 1; p=""; c=$(printf 'd%.0s' $(seq 1 200))
while [ $(( 4095 - ${#p} )) -gt 201 ]; do p="$p$c/"; done
mkdir -p "$p" || return 1
f="$p$(printf 'v%.0s' $(seq 1 $(( 4095 - ${#p} ))))"
echo precious > "$f" || return 1
CMD=("$ARCHC" "$TINY" -o "${f}zzzz.c"); PROTECT=("$f"); NAMES=''
EXPECT='error:.*(too long|name)'
