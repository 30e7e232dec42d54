# The generated binary's command line and the checkpoint loader's errors.
add_test(NAME cli COMMAND bash ${ARCHC_TEST_DIR}/cli/run_cli_tests.sh $<TARGET_FILE:archc> ${ARCHC_ROOT} ${CMAKE_BINARY_DIR}/cli-work)
