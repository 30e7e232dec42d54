# the input named differently: ./sub/../m.yaml
cp "$TINY" "$D/m.yaml"; mkdir -p "$D/sub"
CMD=("$ARCHC" --emit=ir m.yaml -o ./sub/../m.yaml); PROTECT=("$D/m.yaml"); NAMES=m.yaml
EXPECT='error:.*(same|input|overwrite|itself)'
