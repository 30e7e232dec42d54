# -o into a directory that does not exist
CMD=("$ARCHC" "$TINY" -o "$D/no/such/dir/m.c"); ABSENT=("$D/no"); NAMES=m.c
EXPECT='error:.*(No such file|does not exist|cannot)'
