/*
 * runtime/chat.h — rendering a conversation with the checkpoint's own chat
 * template (runtime/jinja.c), as transformers' apply_chat_template(tokenize=False)
 * does, and the --render-chat command line of every generated binary.
 */
#ifndef ARCHC_CHAT_H
#define ARCHC_CHAT_H

#include <stddef.h>

typedef struct ChatRequest {
    const char *weights;          /* checkpoint directory (or a file in it): tokenizer_config.json, chat_template.jinja */
    const char *template_path;    /* optional: a .jinja file instead of the checkpoint's template */
    const char *messages_path;    /* JSON: a list of messages, or {"messages": [...], "tools": [...], "documents": [...]} */
    const char *messages_json;    /* or the same JSON text in memory (messages_len bytes) */
    size_t messages_len;
    int add_generation_prompt;
    const char *const *vars;      /* "NAME=VALUE": VALUE read as JSON, else as a plain string */
    int nvars;
} ChatRequest;

/* Render; 0 and a malloc'd *out, or -1 with a message in err. */
int chat_render(const ChatRequest *rq, char **out, size_t *out_len, char *err, size_t errlen);

/* Does the command line ask for --render-chat? */
int chat_requested(int argc, char **argv);
/* The --render-chat command line: --weights PATH --render-chat FILE [--add-generation-prompt]
 * [--chat-var NAME=VALUE]... [--chat-template FILE]; prints the rendered text to stdout
 * byte for byte.  Returns the process exit status. */
int chat_cli(int argc, char **argv);

/* --chat: an interactive session (runtime/main.c calls it once the weights are
 * bound and the model is initialised).  Turns are read line by line from stdin
 * (a prompt is shown on a terminal); each turn renders the whole conversation
 * with the checkpoint's template, and only the tokens after the longest prefix
 * already in the KV cache are prefilled.  Replies are streamed to stdout and
 * stop at the end-of-turn ids (generation_config.json's eos_token_id, the
 * tokenizer config's eos_token, the model's EOS) or after max_new tokens.
 * "/reset" starts over, "/exit" (or end of input) ends.  When the conversation
 * no longer fits the context it is refused with a message, or with `slide` the
 * oldest turns are dropped.  Returns the exit status. */
struct RtModel;
struct Tokenizer;
struct Sampler;
typedef struct ChatSessionOptions {
    const char *weights, *system, *template_path;
    const char *const *vars;
    int nvars;
    int max_new;      /* tokens per reply at most (<= 0: until end of turn or the context is full) */
    int slide;
    int print_ids;    /* "ids: …" of each reply on stderr, "prefill: …" lines too */
} ChatSessionOptions;
int chat_session(const struct RtModel *m, const struct Tokenizer *tok, struct Sampler *s, const ChatSessionOptions *o);

#endif
