# -o ''
CMD=("$ARCHC" "$TINY" -o ""); NAMES=''
EXPECT='error:.*(-o|output)'
