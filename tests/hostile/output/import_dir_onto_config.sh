# archc import DIR -o DIR/config.json
mkdir -p "$D/hf"; cp "$ROOT/tests/fixtures/llama/config.json" "$D/hf/config.json"
CMD=("$ARCHC" import "$D/hf" -o "$D/hf/config.json"); PROTECT=("$D/hf/config.json"); NAMES=config.json
EXPECT='error:.*(same|input|overwrite|itself)'
