# DeepSeek-V3 / R1's pre-tokenizer (three Isolated Splits, the third an
# alternation with \p{P} \p{S} \p{M} and a negative lookahead): a small BPE with
# the released normalizer / pre_tokenizer / post_processor / decoder, and the
# ids `tokenizers` gave on 958 strings, made by
# tests/tokenizer/make_deepseek3_ref.py; runs everywhere, no network.
add_test(NAME tokenizer.deepseek3
         COMMAND test_tokenizer ${ARCHC_TEST_DIR}/tokenizer/deepseek3.json ${ARCHC_TEST_DIR}/tokenizer/deepseek3.cases.json)
