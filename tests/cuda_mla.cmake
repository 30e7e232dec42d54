# Multi-head latent attention on the CUDA backend (issue 10; codegen/emit_cuda_mla.c,
# runtime/cuda/archc_cuda_mla.cuh).  CI has no GPU: the kernels run on the CPU emulator.
#  - cuda.emu.mla.NAME[.VARIANT]: a model with MLA on every layer and a dense
#    SwiGLU ffn (tests/cuda/mla/NAME.yaml), random weights; the emulator build's
#    prefill and cached-decode logits against the C build's (1e-4) and the
#    greedy tokens — absorbed decode (mla-absorb) and materialised prefill, the
#    pass off (materialised decode), prefill chunks of 4, bf16 weights, decode
#    without the CUDA graph (tests/cuda/mla/run_vs_c.sh);
#  - cuda.emu.FIXTURE for the MLA fixtures (with MoE layers): against transformers,
#    as tests/cuda.cmake's cuda.emu.*, also with the pass off and chunks of 4;
#  - cuda.nvcc.mla.*: every MLA .cu compiles with nvcc (skipped without nvcc).
foreach(name mla_v3 mla_v2)
  set(run bash ${ARCHC_TEST_DIR}/cuda/mla/run_vs_c.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
          ${ARCHC_TEST_DIR}/cuda/mla/${name}.yaml)
  set(work ${CMAKE_BINARY_DIR}/cuda-work/mla-${name})
  add_test(NAME cuda.emu.mla.${name} COMMAND ${run} ${work} f32)
  add_test(NAME cuda.emu.mla.${name}.no-mla-absorb COMMAND ${run} ${work}-no-absorb f32 --disable-pass=mla-absorb)
  add_test(NAME cuda.emu.mla.${name}.chunk4 COMMAND ${run} ${work}-chunk4 f32 --prefill-chunk=4)
  add_test(NAME cuda.emu.mla.${name}.bf16 COMMAND ${run} ${work}-bf16 bf16)
endforeach()
add_test(NAME cuda.emu.mla.mla_v3.no-graph
         COMMAND ${CMAKE_COMMAND} -E env ARCHC_CUDA_GRAPH=0
                 bash ${ARCHC_TEST_DIR}/cuda/mla/run_vs_c.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/cuda/mla/mla_v3.yaml ${CMAKE_BINARY_DIR}/cuda-work/mla-mla_v3-no-graph f32)
add_test(NAME cuda.nvcc.mla
         COMMAND bash ${ARCHC_TEST_DIR}/cuda/mla/run_nvcc.sh $<TARGET_FILE:archc> ${CMAKE_BINARY_DIR}/cuda-work/nvcc-mla
                 ${ARCHC_TEST_DIR}/cuda/mla/mla_v3.yaml ${ARCHC_TEST_DIR}/cuda/mla/mla_v2.yaml)
set_tests_properties(cuda.nvcc.mla PROPERTIES SKIP_RETURN_CODE 77)
# the MLA fixtures (MLA and MoE layers; deepseek_v3_fp8: kv_b_proj fp8 e4m3 with 16×24 blocks)
foreach(name deepseek_v2 deepseek_v3 deepseek_v3_fp8 kimi_k2)
  set(fx bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits> ${ARCHC_TEST_DIR}/fixtures/${name})
  add_test(NAME cuda.emu.${name} COMMAND ${fx} ${CMAKE_BINARY_DIR}/cuda-work/emu-${name} --target=cuda-emu)
  add_test(NAME cuda.emu.${name}.no-mla-absorb
           COMMAND ${fx} ${CMAKE_BINARY_DIR}/cuda-work/emu-${name}-no-mla-absorb --target=cuda-emu --disable-pass=mla-absorb)
  add_test(NAME cuda.nvcc.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_cuda_build.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/nvcc-${name})
  set_tests_properties(cuda.nvcc.${name} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
add_test(NAME cuda.emu.deepseek_v3.chunk4
         COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/deepseek_v3 ${CMAKE_BINARY_DIR}/cuda-work/emu-deepseek_v3-chunk4
                 --target=cuda-emu --prefill-chunk=4)
