# -o names an existing directory called x.c
mkdir -p "$D/x.c"; touch "$D/x.c/keep"
CMD=("$ARCHC" "$TINY" -o "$D/x.c"); PROTECT=("$D/x.c"); NAMES=x.c
EXPECT='error:.*(directory|cannot)'
