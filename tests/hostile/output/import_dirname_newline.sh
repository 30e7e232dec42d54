# an import directory name with a newline and a YAML key in it
H="$D/evil
hidden: 1"; mkdir -p "$H"
cp "$ROOT/tests/fixtures/llama/config.json" "$H/"
CMD=("$ARCHC" import "$H" -o "$D/m.yaml"); MODE=either; ABSENT=("$D/m.yaml"); NAMES=evil; EXPECT='error:'
ON_SUCCESS="'$ARCHC' '$D/m.yaml' -o '$D/m.c' 2>'$D/c.err' || { echo \"the imported YAML does not compile: \$(head -1 '$D/c.err')\"; false; } && c_compiles '$D/m.c'"
