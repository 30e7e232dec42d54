/* tests/chat/render_chat.c — the generated binaries' --render-chat command line
 * (runtime/chat.c) without a model: the chat tests run it on each case. */
#include "chat.h"

int main(int argc, char **argv) { return chat_cli(argc, argv); }
