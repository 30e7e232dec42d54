# BPE on long pre-tokenized words (runtime/tokenizer.c: bpe_word, the heap merge
# loop for words of 16 symbols and more): runs of one letter (equal-rank pairs
# overlapping themselves: leftmost first), random strings over two or three
# letters, glued vocabulary tokens, digit runs (GPT-2), CJK runs (Qwen2,
# DeepSeek-V3), whole space-free texts with byte fallback (Llama 2), and word
# lengths around the 16-symbol cut-off; ids from the Hugging Face `tokenizers`
# library, made by tools/make_bpe_long_refs.py with the tokenizer.json files of
# tests/tokenizer/.  The test binary is tokenizer.cmake's test_tokenizer.
foreach(name llama3 qwen2 gpt2 llama2 o200k deepseek3)
  add_test(NAME tokenizer.long.${name}
           COMMAND test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/${name}.json ${ARCHC_TEST_DIR}/tokenizer/long/${name}.cases.json)
  set_tests_properties(tokenizer.long.${name} PROPERTIES TIMEOUT 60)
endforeach()
