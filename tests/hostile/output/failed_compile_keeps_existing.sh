# a description that fails must leave an existing output untouched
printf 'name: t\nfamily: llama\nvocab: 64\nhidden: 32\nlayers: 4\nmax_context: 128\nnorm: {kind: rmsnorm, eps: 1.0e-5}\nattention: {kind: gqa, heads: 4, kv_heads: 3}\nffn: {kind: swiglu, intermediate: 64}\n' > "$D/bad.yaml"
echo 'int precious;' > "$D/out.c"
CMD=("$ARCHC" "$D/bad.yaml" -o "$D/out.c"); PROTECT=("$D/out.c"); NAMES=bad.yaml
EXPECT='bad\.yaml:[0-9]+:[0-9]+: error: .*kv_heads'
