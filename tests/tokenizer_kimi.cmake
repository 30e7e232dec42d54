# Kimi K2's tokenizer: tiktoken.model (its regex with \p{Han} and class
# intersections, 256 special tokens after the ranks named by
# tokenizer_config.json's added_tokens_decoder, the cuts of its encode()).
# A reduced vocabulary (7 717 ranks, not the released 163 584: the 256 bytes,
# 3 000 trained merges, and the pieces of the edge-case and random strings and
# pairs of adjacent ones, so that a wrong cut changes the ids) and the ids the
# `tiktoken` library (0.14.0) gave on 1 480 strings, made by
# tools/make_kimi_tokenizer_fixture.py; no Python at test time.
add_executable(test_kimi ${ARCHC_TEST_DIR}/tokenizer/kimi/test_kimi.c)
target_link_libraries(test_kimi PRIVATE archc_rt)
add_test(NAME tokenizer.kimi COMMAND test_kimi ${ARCHC_TEST_DIR}/tokenizer/kimi)
# malformed tiktoken.model lines, duplicate ranks, added_tokens_decoder ids
# outside the special tokens: an error naming the file and the line, no crash
add_test(NAME tokenizer.kimi_hostile COMMAND test_kimi --hostile ${ARCHC_TEST_DIR}/tokenizer/kimi)
# --prompt on the kimi_k2 fixture (vocabulary 512): tokenizer/kimi/bytes (the 256
# bytes + 256 specials) next to the weights is found and used; a malformed one
# makes the run fail with the file and line named
add_test(NAME tokenizer.kimi_prompt
         COMMAND bash -c "set -e; W=${CMAKE_BINARY_DIR}/kimi-prompt; rm -rf $W; mkdir -p $W/w; \
cp ${ARCHC_TEST_DIR}/fixtures/kimi_k2/config.json ${ARCHC_TEST_DIR}/fixtures/kimi_k2/model.safetensors ${ARCHC_TEST_DIR}/tokenizer/kimi/bytes/tiktoken.model ${ARCHC_TEST_DIR}/tokenizer/kimi/bytes/tokenizer_config.json $W/w/; \
$<TARGET_FILE:archc> import $W/w/config.json -o $W/m.yaml; $<TARGET_FILE:archc> $W/m.yaml -o $W/m; \
$W/m --weights $W/w --prompt '<|im_user|>user<|im_middle|>Hello 世界<|im_end|>' -n 4 --print-ids > $W/out.txt; \
head -c 60 $W/out.txt | grep -q '^<|im_user|>user<|im_middle|>Hello 世界<|im_end|>'; \
echo 'QQ== 0' > $W/w/tiktoken.model; echo 'Qg== x' >> $W/w/tiktoken.model; \
if $W/m --weights $W/w --prompt 'Hello' -n 1 2> $W/err.txt; then echo 'accepted a malformed tiktoken.model'; exit 1; fi; \
grep -q 'tiktoken.model:2' $W/err.txt")
