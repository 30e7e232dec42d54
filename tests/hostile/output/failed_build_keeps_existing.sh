# CC fails: an existing executable of that name stays, no OUT.archc.c or OUT.tmp is left
echo 'precious' > "$D/m"
CMD=(env ARCHC_CC=false "$ARCHC" "$TINY" -o "$D/m"); PROTECT=("$D/m"); ABSENT=("$D/m.archc.c"); NAMES=''
EXPECT='error:'
