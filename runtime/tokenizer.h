/*
 * runtime/tokenizer.h — tokenizer.json (Hugging Face `tokenizers`) in C.
 *
 * Supported: added/special tokens; normalizers NFC, Prepend, Replace (literal),
 * Lowercase, Sequence; pre-tokenizers Split (Isolated, not inverted) with the
 * regexes of GPT-2, Llama 3 (cl100k), Qwen2/3, o200k (gpt-oss) and DeepSeek-V3/R1
 * (its third Split), or with a one-class regex [\s?|\s+] CLASS [+|{m,n}] [$]
 * (DeepSeek LLM / V2, DeepSeek-V3's \p{N}{1,3} and CJK/kana splits), a Sequence
 * of them applied in turn, ByteLevel (with or without its regex), Metaspace;
 * BPE models (byte-level, and SentencePiece-style with byte_fallback);
 * TemplateProcessing / ByteLevel post-processors; decoding back to UTF-8.
 * tiktoken files: Qwen-1's qwen.tiktoken and Kimi K2's tiktoken.model (its
 * regex with \p{Han} and class intersections, 256 special tokens named by
 * tokenizer_config.json's added_tokens_decoder, the cuts of its encode()).
 * Not supported: Unigram / WordPiece models.
 * Anything else is rejected at load time with a message naming the JSON path.
 * Hostile files: every id (vocab, added tokens, post-processor) must be an
 * integer in [0, vocabulary + added tokens); a token or id present twice, a
 * merge of unknown tokens, bad base64 or out-of-order ranks in a .tiktoken
 * file are errors naming the token, id or line; so are ids of
 * added_tokens_decoder outside Kimi's 256 special tokens, and a name given twice.
 */
#ifndef ARCHC_TOKENIZER_H
#define ARCHC_TOKENIZER_H

#include <stddef.h>

typedef struct Tokenizer Tokenizer;

/* Load tokenizer.json, or a tiktoken vocabulary: a path ending in .tiktoken
 * (Qwen-1's qwen.tiktoken, with Qwen's regex and special tokens), or in
 * tiktoken.model (Kimi K2's, with Kimi's regex; the special tokens' names come
 * from tokenizer_config.json in the same directory when there is one).  NULL on
 * error with a one-line message in err. */
Tokenizer *tok_load(const char *path, char *err, size_t errlen);
/* The same from memory: `name` is used in messages and, when it ends in
 * .tiktoken or tiktoken.model, selects that format (Kimi's without a
 * tokenizer_config.json: every special token reserved).  For tests and the fuzzers. */
Tokenizer *tok_load_memory(const char *data, size_t len, const char *name, char *err, size_t errlen);
/* Kimi K2 from memory: tiktoken.model and tokenizer_config.json (config may be
 * NULL); the names are used in messages. */
Tokenizer *tok_load_kimi_memory(const char *model, size_t len, const char *config, size_t config_len, const char *name,
                                const char *config_name, char *err, size_t errlen);
void tok_free(Tokenizer *t);

/* Encode UTF-8 text as HF does with add_special_tokens=True (post-processor
 * applied).  Returns the number of ids written to *ids (malloc'd, caller frees),
 * or -1 with err set. */
int tok_encode(const Tokenizer *t, const char *text, int **ids, char *err, size_t errlen);
/* The same with add_special_tokens=False (no post-processor): a rendered chat
 * template already holds its special tokens. */
int tok_encode_plain(const Tokenizer *t, const char *text, int **ids, char *err, size_t errlen);
/* Decode one token id to the bytes it stands for (appended to buf, NUL-terminated);
 * returns the number of bytes appended. For streaming output. */
size_t tok_decode_piece(const Tokenizer *t, int id, char *buf, size_t cap);
/* Whole-sequence decode (skip_special_tokens=False); malloc'd string. */
char *tok_decode(const Tokenizer *t, const int *ids, int n);
int tok_vocab_size(const Tokenizer *t);
/* Id of a token string (vocab or added tokens), -1 if absent. */
int tok_token_id(const Tokenizer *t, const char *token);

#endif
