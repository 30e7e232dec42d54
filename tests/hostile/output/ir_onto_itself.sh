# archc --emit=ir m.yaml -o m.yaml
cp "$TINY" "$D/m.yaml"
CMD=("$ARCHC" --emit=ir "$D/m.yaml" -o "$D/m.yaml"); PROTECT=("$D/m.yaml"); NAMES=m.yaml
EXPECT='error:.*(same|input|overwrite|itself)'
