# an import directory whose name would become the model name: the YAML must parse and its C compile, or import refuses
mkdir -p "$D/evil\"*/ _Static_assert(0, \"INJECTED\"); /*"; H="$D/evil\"*/ _Static_assert(0, \"INJECTED\"); /*"
cp "$ROOT/tests/fixtures/llama/config.json" "$H/"
CMD=("$ARCHC" import "$H" -o "$D/m.yaml"); MODE=either; ABSENT=("$D/m.yaml"); NAMES=evil; EXPECT='error:'
ON_SUCCESS="'$ARCHC' '$D/m.yaml' -o '$D/m.c' 2>'$D/c.err' || { echo \"the imported YAML does not compile: \$(head -1 '$D/c.err')\"; false; } && c_compiles '$D/m.c'"
