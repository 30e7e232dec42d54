# archc import: rope-config spellings and error messages.
add_test(NAME import COMMAND bash ${ARCHC_TEST_DIR}/import/run_import_tests.sh $<TARGET_FILE:archc> ${ARCHC_TEST_DIR}/import ${CMAKE_BINARY_DIR}/import-work)
