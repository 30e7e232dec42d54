# The CUDA backend (issue 9; codegen/emit_cuda.c, runtime/cuda/).  CI has no GPU:
#  - cuda.emu.NAME runs the fixture's emitted .cu on the CPU emulator
#    (--target=cuda-emu, runtime/cuda/cuda_emu.h) and checks its prefill and
#    decode logits against transformers (1e-4) and its greedy tokens, exactly
#    as the C fixtures: every kernel of the .cu runs, one emulated thread at a time;
#  - cuda.nvcc.NAME builds it with nvcc (--target=cuda) and checks that the
#    binary refuses at once without a GPU (on a machine with a GPU it runs the
#    fixture there).  Skipped when nvcc is absent.
# On the GPU machine, tools/cuda_check.sh runs every fixture on the device.
set(ARCHC_CUDA_FIXTURES gemma3 gemma3_bf16 glm4_moe gpt_oss gpt_oss_mxfp4 llama llama4 llama_bf16 llama_tied mistral olmo2 qwen1 qwen2 qwen3 qwen3_f16 qwen3_moe qwen3_yarn smollm3)
foreach(name ${ARCHC_CUDA_FIXTURES})
  add_test(NAME cuda.emu.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/emu-${name} --target=cuda-emu)
  add_test(NAME cuda.nvcc.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_cuda_build.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/nvcc-${name})
  set_tests_properties(cuda.nvcc.${name} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
# every pass switched off, and prefill in chunks of 4 (rings wrap), on the GPU kernels too
foreach(name qwen3 gemma3 olmo2)
  foreach(pass rope-fold qknorm-fuse epilogue-fuse swa-tile memplan)
    add_test(NAME cuda.emu.${name}.no-${pass}
             COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                     ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/emu-${name}-no-${pass}
                     --target=cuda-emu --disable-pass=${pass})
  endforeach()
  add_test(NAME cuda.emu.${name}.chunk4
           COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/emu-${name}-chunk4
                   --target=cuda-emu --prefill-chunk=4)
endforeach()
# greedy decode with the argmax on the device (no logits copied back), graph and direct launches
foreach(name qwen3 gemma3)
  add_test(NAME cuda.emu.${name}.greedy
           COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_greedy.sh $<TARGET_FILE:archc> ${ARCHC_TEST_DIR}/fixtures/${name}
                   ${CMAKE_BINARY_DIR}/cuda-work/greedy-${name})
endforeach()
# multi-token prediction (--mtp) with the MTP module on the device (its MLA layer included)
add_test(NAME cuda.emu.mtp.deepseek_v3_mtp
         COMMAND bash ${ARCHC_TEST_DIR}/run_mtp.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/deepseek_v3_mtp ${CMAKE_BINARY_DIR}/cuda-work/mtp-deepseek_v3_mtp --target=cuda-emu)
# archc quantize --format fp8 (128×128 block scales): the CUDA build equals the C build
foreach(fx qwen3 qwen3_moe)
  add_test(NAME cuda.emu.quant.${fx}.fp8
           COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_quant_vs_c.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${fx} fp8 ${CMAKE_BINARY_DIR}/cuda-work/quant-${fx}-fp8)
endforeach()
# refusals: formats not run on the GPU yet, --cc with --target=cuda, no device
add_test(NAME cuda.errors
         COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_errors.sh $<TARGET_FILE:archc> ${ARCHC_TEST_DIR}/fixtures
                 ${CMAKE_BINARY_DIR}/cuda-work/errors)
# decode-persistent (issue 11): the decode step as one persistent kernel over an instruction
# list; equal to the separate launches and to transformers, on every dense family
foreach(name qwen3 gemma3 qwen1 llama llama_bf16 mistral olmo2 smollm3 qwen2 qwen3_f16 qwen3_moe glm4_moe gpt_oss gpt_oss_mxfp4 llama4)
  add_test(NAME cuda.emu.persistent.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_persistent.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/persistent-${name})
endforeach()
add_test(NAME cuda.emu.persistent.qwen3.no-memplan
         COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_persistent.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/qwen3 ${CMAKE_BINARY_DIR}/cuda-work/persistent-qwen3-no-memplan --disable-pass=memplan)
add_test(NAME cuda.nvcc.persistent.qwen3
         COMMAND bash ${ARCHC_TEST_DIR}/cuda/run_cuda_build.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/qwen3 ${CMAKE_BINARY_DIR}/cuda-work/nvcc-persistent-qwen3 --enable-pass=decode-persistent)
set_tests_properties(cuda.nvcc.persistent.qwen3 PROPERTIES SKIP_RETURN_CODE 77)
# --precision bf16 on the GPU: bf16 prefill on tensor cores (WMMA), bounded like the C path's test
add_test(NAME cuda.emu.precision.bf16
         COMMAND ${CMAKE_COMMAND} -E env ARCHC_PRECISION_MUST_DIFFER=1
                 bash ${ARCHC_TEST_DIR}/run_precision.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/llama_bf16 ${CMAKE_BINARY_DIR}/cuda-work/precision-bf16 1e-4 --target=cuda-emu)
# MoE prefill with and without the expert-group pass (grouped products / one GEMV per pair), and in chunks of 4
foreach(name qwen3_moe deepseek_v3)
  add_test(NAME cuda.emu.${name}.no-expert-group
           COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${name} ${CMAKE_BINARY_DIR}/cuda-work/emu-${name}-no-expert-group
                   --target=cuda-emu --disable-pass=expert-group)
endforeach()
add_test(NAME cuda.emu.qwen3_moe.chunk4
         COMMAND bash ${ARCHC_TEST_DIR}/run_fixture.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/qwen3_moe ${CMAKE_BINARY_DIR}/cuda-work/emu-qwen3_moe-chunk4 --target=cuda-emu --prefill-chunk=4)
