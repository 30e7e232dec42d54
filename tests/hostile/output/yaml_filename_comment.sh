# a description whose file name would end up in the generated C: compile cleanly (C that compiles) or refuse cleanly
F='tiny*/model.yaml'
mkdir -p "$(dirname "$D/$F")"; cp "$TINY" "$D/$F"
CMD=("$ARCHC" "$D/$F" -o "$D/out.c"); MODE=either; ABSENT=("$D/out.c"); NAMES=$F; EXPECT="error:"; ON_SUCCESS="c_compiles '$D/out.c'"
