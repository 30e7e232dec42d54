# a relative output name that looks like compiler flags; run in D
MODE=noinject
CMD=("$ARCHC" "$TINY" -o "-o INJECTED")
