# Chat templates: runtime/jinja.c + runtime/chat.c render each case of tests/chat/ byte for
# byte as transformers 4.57.6 does (expected files made by tools/make_chat_fixtures.py from
# the released templates in tests/chat/templates/), and refuse what transformers refuses.
add_executable(render_chat ${ARCHC_TEST_DIR}/chat/render_chat.c)
target_link_libraries(render_chat PRIVATE archc_rt)
file(GLOB CHAT_FAMILIES RELATIVE ${ARCHC_TEST_DIR}/chat/models CONFIGURE_DEPENDS ${ARCHC_TEST_DIR}/chat/models/*)
foreach(fam ${CHAT_FAMILIES})
  add_test(NAME chat.${fam} COMMAND bash ${ARCHC_TEST_DIR}/chat/run_cases.sh $<TARGET_FILE:render_chat> ${fam})
endforeach()
