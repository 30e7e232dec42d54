# build mode, hostile output name: the name must never reach a shell (success is fine)
O=x\"\;\ touch\ INJECTED\;\ \"
CMD=("$ARCHC" "$TINY" -o "$D/$O"); MODE=noinject
