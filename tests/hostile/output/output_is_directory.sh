# -o names an existing directory
mkdir -p "$D/outdir"; touch "$D/outdir/keep"
CMD=("$ARCHC" "$TINY" -o "$D/outdir"); PROTECT=("$D/outdir"); NAMES=outdir
EXPECT='error:.*(directory|cannot)'
