# -o ''
CMD=("$ARCHC" "$TINY" -o ""); NAMES=-o
EXPECT='error:.*-o'
