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

#endif
