# Exactness against transformers: every fixture in tests/fixtures (made by
# tools/make_fixtures.py), with all passes on and with each pass switched off.
set(ARCHC_PASSES rope-fold qknorm-fuse epilogue-fuse swa-tile expert-group mla-absorb memplan)
add_executable(compare_logits ${ARCHC_TEST_DIR}/compare_logits.c)
target_link_libraries(compare_logits PRIVATE m)
file(GLOB ARCHC_FIXTURES LIST_DIRECTORIES true ${ARCHC_TEST_DIR}/fixtures/*)
foreach(fx ${ARCHC_FIXTURES})
  if(IS_DIRECTORY ${fx} AND EXISTS ${fx}/logits.bin)
    get_filename_component(name ${fx} NAME)
    add_test(NAME fixture.${name}
             COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                     ${fx} ${CMAKE_BINARY_DIR}/fixture-work/${name})
    # prefill in chunks of 4 tokens: chunking is exact, and window-sized ring caches
    # (8 + 4 - 1 rows for the window-8 fixtures) wrap several times in prefill and decode
    add_test(NAME fixture.${name}.chunk4
             COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                     ${fx} ${CMAKE_BINARY_DIR}/fixture-work/${name}-chunk4 --prefill-chunk=4)
    foreach(pass ${ARCHC_PASSES})
      add_test(NAME fixture.${name}.no-${pass}
               COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                       ${fx} ${CMAKE_BINARY_DIR}/fixture-work/${name}-no-${pass} --disable-pass=${pass})
    endforeach()
  endif()
endforeach()
# --precision=bf16 (a flag of the generated binary): bf16-rounded activations in
# prefill, bounded by mean KL against the fp32 reference; the default stays exact.
add_test(NAME precision.bf16
         COMMAND bash ${ARCHC_TEST_DIR}/run_precision.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/llama_bf16 ${CMAKE_BINARY_DIR}/fixture-work/precision-bf16 1e-4)
