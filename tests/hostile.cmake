# The malformed-input corpus (issue 13): one test per input kind; each case must
# fail cleanly (one `error:` line naming the file and the place, no crash, no hang,
# no output written or changed) — tests/hostile/run_hostile.sh.
foreach(kind yaml import output safetensors tokenizer cli)
  add_test(NAME hostile.${kind}
           COMMAND bash ${ARCHC_TEST_DIR}/hostile/run_hostile.sh $<TARGET_FILE:archc> ${ARCHC_ROOT} ${CMAKE_BINARY_DIR}/hostile-work/${kind} ${kind})
  set_tests_properties(hostile.${kind} PROPERTIES TIMEOUT 900)
endforeach()
