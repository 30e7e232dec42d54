# -o names a symbolic link to the input
cp "$TINY" "$D/m.yaml"; ln -s m.yaml "$D/link.c"
CMD=("$ARCHC" "$D/m.yaml" -o "$D/link.c"); PROTECT=("$D/m.yaml"); NAMES=link.c; MODE=either
EXPECT='error:.*(same|input|overwrite|itself|link)'; ON_SUCCESS="c_compiles '$D/link.c'"
