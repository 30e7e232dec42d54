# archc import config.json -o config.json
cp "$ROOT/tests/fixtures/llama/config.json" "$D/config.json"
CMD=("$ARCHC" import "$D/config.json" -o "$D/config.json"); PROTECT=("$D/config.json"); NAMES=config.json
EXPECT='error:.*(same|input|overwrite|itself)'
