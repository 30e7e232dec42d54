# Multi-token prediction: greedy self-speculative decoding (--mtp) on every fixture
# whose checkpoint carries an MTP module, with mla-absorb on and off.
file(GLOB ARCHC_MTP_FIXTURES LIST_DIRECTORIES true ${ARCHC_TEST_DIR}/fixtures/*_mtp)
foreach(fx ${ARCHC_MTP_FIXTURES})
  get_filename_component(name ${fx} NAME)
  add_test(NAME mtp.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/run_mtp.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${fx}
                   ${CMAKE_BINARY_DIR}/mtp-work/${name})
  add_test(NAME mtp.${name}.no-mla-absorb
           COMMAND bash ${ARCHC_TEST_DIR}/run_mtp.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${fx}
                   ${CMAKE_BINARY_DIR}/mtp-work/${name}-no-absorb --disable-pass=mla-absorb)
endforeach()
