# archc m.yaml -o m.yaml: must refuse and leave the description as it was
cp "$TINY" "$D/m.yaml"
CMD=("$ARCHC" "$D/m.yaml" -o "$D/m.yaml"); PROTECT=("$D/m.yaml"); NAMES=m.yaml
EXPECT='error:.*(same|input|overwrite|itself)'
