# Chat templates: runtime/jinja.c + runtime/chat.c render each case of tests/chat/ byte for
# byte as transformers 4.57.6 does (expected files made by tools/make_chat_fixtures.py from
# the released templates in tests/chat/templates/), and refuse what transformers refuses.
add_executable(render_chat ${ARCHC_TEST_DIR}/chat/render_chat.c)
target_link_libraries(render_chat PRIVATE archc_rt)
file(GLOB CHAT_FAMILIES RELATIVE ${ARCHC_TEST_DIR}/chat/models CONFIGURE_DEPENDS ${ARCHC_TEST_DIR}/chat/models/*)
foreach(fam ${CHAT_FAMILIES})
  add_test(NAME chat.${fam} COMMAND bash ${ARCHC_TEST_DIR}/chat/run_cases.sh $<TARGET_FILE:render_chat> ${fam})
endforeach()
# The same through a generated binary's --render-chat (runtime/main.c hands it to runtime/chat.c
# before touching weights): a Qwen3 model built from the qwen3 fixture's config renders the qwen3 cases.
add_test(NAME chat.binary_render_chat
         COMMAND bash -c "set -e; W=${CMAKE_BINARY_DIR}/chat-binary; rm -rf $W; mkdir -p $W; \
$<TARGET_FILE:archc> import ${ARCHC_TEST_DIR}/fixtures/qwen3/config.json -o $W/m.yaml; $<TARGET_FILE:archc> $W/m.yaml -o $W/m; \
bash ${ARCHC_TEST_DIR}/chat/run_cases.sh $W/m qwen3; \
if $W/m --weights ${ARCHC_TEST_DIR}/chat/models/qwen3 --render-chat ${ARCHC_TEST_DIR}/chat/conversations/basic.json --temp 1 2> $W/err; then exit 1; fi; \
grep -q 'not .--temp.' $W/err")
# Outside the subset, malformed, hostile (deep nesting, loop and string bombs): one error line naming
# the feature and the template line, exit status 1, bounded time and memory (tests/chat/errors/).
add_test(NAME chat.errors COMMAND bash ${ARCHC_TEST_DIR}/chat/run_errors.sh $<TARGET_FILE:render_chat>)
# --chat on a compiled model: replies identical to fresh runs of the rendered conversation, the
# KV cache reused across turns, /reset, /exit, context full (refused, or --slide).
add_test(NAME chat.session COMMAND bash ${ARCHC_TEST_DIR}/chat/run_session.sh $<TARGET_FILE:archc> ${CMAKE_BINARY_DIR}/chat-session)
