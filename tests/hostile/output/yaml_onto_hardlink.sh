# -o names a hard link to the input: the input's contents must survive (refuse, or replace the link only)
cp "$TINY" "$D/m.yaml"; ln "$D/m.yaml" "$D/link.c"
CMD=("$ARCHC" "$D/m.yaml" -o "$D/link.c"); PROTECT=("$D/m.yaml"); NAMES=link.c; MODE=either
EXPECT='error:.*(same|input|overwrite|itself)'; ON_SUCCESS="c_compiles '$D/link.c'"
