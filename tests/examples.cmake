# examples/: `archc import` of every examples/hf/*.json reproduces examples/<name>.yaml
# (golden files; regenerate with tools/update_examples.sh after checking the diff),
# every description lowers to IR, the dense ones emit C that compiles with
# -Wall -Werror, and the families whose kernels are not written yet fail with a
# clear "not yet supported" error and leave no output file behind.
file(GLOB ARCHC_HF_CONFIGS ${ARCHC_ROOT}/examples/hf/*.json)
foreach(cfg ${ARCHC_HF_CONFIGS})
  get_filename_component(name ${cfg} NAME_WLE)
  add_test(NAME examples.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/check_example.sh $<TARGET_FILE:archc> ${ARCHC_ROOT} ${name}
                   ${CMAKE_BINARY_DIR}/examples-work)
endforeach()
