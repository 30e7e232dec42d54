# The tokenizer against the Hugging Face `tokenizers` library's ids for the same
# tokenizer.json files (tests/tokenizer/*.json, made by tools/make_tokenizer_refs.py).
add_executable(test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/test_tokenizer.c)
target_link_libraries(test_tokenizer PRIVATE archc_rt)
foreach(name llama3 qwen2 gpt2 llama2)
  add_test(NAME tokenizer.${name}
           COMMAND test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/${name}.json ${ARCHC_TEST_DIR}/tokenizer/${name}.cases.json)
endforeach()
