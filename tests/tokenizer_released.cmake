# archc's tokenizer on the released tokenizers of the seed families: llama.cpp's
# test vocabularies (GGUF + strings + the ids Hugging Face's tokenizer gave),
# converted to tokenizer.json by tools/gguf_vocab_to_hf.py at test time and
# read from ARCHC_VOCAB_DIR (default: llama.cpp/models next to the source tree).
# Nothing of them is in the repository; a missing vocabulary skips (exit 77).
set(ARCHC_VOCAB_DIR "${CMAKE_SOURCE_DIR}/../llama.cpp/models" CACHE PATH "llama.cpp's models/ directory (ggml-vocab-*.gguf with .inp/.out)")
add_executable(test_tokenizer_released ${ARCHC_TEST_DIR}/tokenizer/test_released.c)
target_link_libraries(test_tokenizer_released PRIVATE archc_rt)
# qwen2: Qwen2 / 2.5 / 3; llama-bpe: Llama 3.x; deepseek-llm: DeepSeek LLM / V2;
# gpt-2; llama-spm: Llama 2 (SentencePiece BPE); phi-3 (SentencePiece + specials)
foreach(name qwen2 llama-bpe deepseek-llm gpt-2 llama-spm phi-3)
  add_test(NAME tokenizer.released.${name}
           COMMAND ${ARCHC_TEST_DIR}/tokenizer/run_released.sh ${name} $<TARGET_FILE:test_tokenizer_released> ${CMAKE_BINARY_DIR}/tokenizer-released)
  set_tests_properties(tokenizer.released.${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       ENVIRONMENT "ARCHC_VOCAB_DIR=${ARCHC_VOCAB_DIR}")
endforeach()
# Regression fixture for Sequence-of-Split pre-tokenizers (DeepSeek LLM's six
# one-class regexes and more), made by tests/tokenizer/make_split_seq_ref.py
# with `tokenizers`; runs everywhere.
add_test(NAME tokenizer.split_seq
         COMMAND test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/split_seq.json ${ARCHC_TEST_DIR}/tokenizer/split_seq.cases.json)
