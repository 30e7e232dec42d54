# archc init-weights m.yaml -o m.yaml: the description must survive
cp "$TINY" "$D/m.yaml"
CMD=("$ARCHC" init-weights "$D/m.yaml" -o "$D/m.yaml"); PROTECT=("$D/m.yaml"); NAMES=m.yaml
EXPECT='error:'
