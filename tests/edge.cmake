# Edge builds (issue 15): static --target executables with start-up ISA dispatch,
# one-file deploys (--embed-weights) and `archc run` (tests/edge/).
foreach(check embed run errors cache)
  add_test(NAME edge.${check}
           COMMAND bash ${ARCHC_TEST_DIR}/edge/run_edge.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${CMAKE_BINARY_DIR}/edge-work/${check} ${check})
endforeach()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  add_test(NAME edge.variants
           COMMAND bash ${ARCHC_TEST_DIR}/edge/run_edge.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${CMAKE_BINARY_DIR}/edge-work/variants variants)
endif()

# Fixtures exact on other targets: AArch64 under qemu (the dotprod variant on
# qemu's "max" CPU, the armv8-a floor on a Cortex-A53), and the portable x86-64
# binary (its best variant here, and the scalar floor and AVX2 forced).
set(ARCHC_EDGE_FIXTURES qwen3 llama_bf16 qwen3_f16 gemma3 gpt_oss_mxfp4 deepseek_v3_fp8)
foreach(name ${ARCHC_EDGE_FIXTURES})
  add_test(NAME fixture.${name}.aarch64
           COMMAND bash ${ARCHC_TEST_DIR}/edge/run_target_fixture.sh aarch64-linux-gnu "qemu-aarch64 -cpu max"
                   $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${ARCHC_TEST_DIR}/fixtures/${name}
                   ${CMAKE_BINARY_DIR}/fixture-work/${name}-aarch64)
  set_tests_properties(fixture.${name}.aarch64 PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
add_test(NAME fixture.qwen3.aarch64-a53
         COMMAND bash ${ARCHC_TEST_DIR}/edge/run_target_fixture.sh aarch64-linux-gnu "qemu-aarch64 -cpu cortex-a53"
                 $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${ARCHC_TEST_DIR}/fixtures/qwen3
                 ${CMAKE_BINARY_DIR}/fixture-work/qwen3-aarch64-a53)
set_tests_properties(fixture.qwen3.aarch64-a53 PROPERTIES SKIP_RETURN_CODE 77)
foreach(name qwen3 llama_bf16 deepseek_v3_fp8 gpt_oss_mxfp4)
  add_test(NAME fixture.${name}.x86-64-portable
           COMMAND bash ${ARCHC_TEST_DIR}/edge/run_target_fixture.sh x86_64-linux-gnu ""
                   $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${ARCHC_TEST_DIR}/fixtures/${name}
                   ${CMAKE_BINARY_DIR}/fixture-work/${name}-x86-64-portable)
  set_tests_properties(fixture.${name}.x86-64-portable PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
foreach(isa x86-64 x86-64-v3)
  add_test(NAME fixture.qwen3.${isa}
           COMMAND bash ${ARCHC_TEST_DIR}/edge/run_target_fixture.sh x86_64-linux-gnu "env ARCHC_ISA=${isa}"
                   $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${ARCHC_TEST_DIR}/fixtures/qwen3
                   ${CMAKE_BINARY_DIR}/fixture-work/qwen3-${isa})
  set_tests_properties(fixture.qwen3.${isa} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
# target builds keep the runtime's objects in the build tree, not in ~/.cache
get_property(_edge_tests DIRECTORY PROPERTY TESTS)
foreach(t ${_edge_tests})
  if(t MATCHES "^edge\\.|\\.(aarch64|aarch64-a53|x86-64-portable|x86-64|x86-64-v3)$")
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "ARCHC_CACHE_DIR=${CMAKE_BINARY_DIR}/archc-cache")
  endif()
endforeach()
