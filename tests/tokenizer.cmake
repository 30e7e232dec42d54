# The tokenizer against the Hugging Face `tokenizers` library's ids for the same
# tokenizer.json files (tests/tokenizer/*.json, made by tools/make_tokenizer_refs.py).
add_executable(test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/test_tokenizer.c)
target_link_libraries(test_tokenizer PRIVATE archc_rt)
foreach(name llama3 qwen2 gpt2 llama2 o200k nfc)
  add_test(NAME tokenizer.${name}
           COMMAND test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/${name}.json ${ARCHC_TEST_DIR}/tokenizer/${name}.cases.json)
endforeach()
# Qwen-1's tiktoken vocabulary format against the `tiktoken` library (tools/make_tiktoken_ref.py)
add_test(NAME tokenizer.qwen1_tiktoken
         COMMAND test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/qwen1/qwen.tiktoken ${ARCHC_TEST_DIR}/tokenizer/qwen1.cases.json)
# --prompt on a Qwen-1 model: qwen.tiktoken next to the weights is found and used
add_test(NAME tokenizer.qwen1_prompt
         COMMAND bash -c "set -e; W=${CMAKE_BINARY_DIR}/qwen1-prompt; rm -rf $W; mkdir -p $W/w; \
cp ${ARCHC_TEST_DIR}/fixtures/qwen1/config.json ${ARCHC_TEST_DIR}/fixtures/qwen1/model.safetensors ${ARCHC_TEST_DIR}/tokenizer/qwen1/qwen.tiktoken $W/w/; \
$<TARGET_FILE:archc> import $W/w/config.json -o $W/m.yaml; $<TARGET_FILE:archc> $W/m.yaml -o $W/m; \
$W/m --weights $W/w --prompt '<|im_start|>user Hello world<|im_end|>' -n 4 --print-ids > $W/out.txt; \
head -c 40 $W/out.txt | grep -q '^<|im_start|>user Hello world<|im_end|>'")
