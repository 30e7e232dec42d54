# archc quantize (docs/quantize.md): round trip against tools/quant_ref.py, then
# quantise → import → compile → run on four families (dense, MoE, MLA, tied
# embeddings) with a KL / top-1 bound per format against the fp32 logits, and
# the kernels against the f32 model on the decoded weights; bad inputs.
# Bounds: measured values (docs/quantize.md) with margin.
set(ARCHC_QUANT_FIXTURES qwen3 qwen3_moe deepseek_v3 llama_tied gpt_oss llama4 qwen1)
set(ARCHC_QUANT_KL_int8 0.003)
set(ARCHC_QUANT_KL_fp8 0.03)
set(ARCHC_QUANT_KL_int4 0.08)
set(ARCHC_QUANT_KL_mxfp4 0.1)
set(ARCHC_QUANT_TOP1_int8 26)   # of the 32 prompt rows
set(ARCHC_QUANT_TOP1_fp8 18)
set(ARCHC_QUANT_TOP1_int4 8)
set(ARCHC_QUANT_TOP1_mxfp4 12)
# Stacked experts (gpt-oss, Llama 4) are quantised too.  These two random-weight
# fixtures move more under quantisation than the others (measured mean KL, top-1 of
# 32: gpt_oss int8 0.022/23, int4 0.092/13, fp8 0.044/18, mxfp4 0.16/5; llama4 int4
# 0.099/10, fp8 0.023/21, mxfp4 0.12/7): their own bounds, with margin.
set(ARCHC_QUANT_KL_gpt_oss_int8 0.05)
set(ARCHC_QUANT_TOP1_gpt_oss_int8 18)
set(ARCHC_QUANT_KL_gpt_oss_int4 0.2)
set(ARCHC_QUANT_TOP1_gpt_oss_int4 8)
set(ARCHC_QUANT_KL_gpt_oss_fp8 0.1)
set(ARCHC_QUANT_TOP1_gpt_oss_fp8 12)
set(ARCHC_QUANT_KL_gpt_oss_mxfp4 0.3)
set(ARCHC_QUANT_TOP1_gpt_oss_mxfp4 2)
# The MoE fixtures' int8 KL jumps with perturbations far below int8's own error
# (their top-k routing is discontinuous): deepseek_v3 int8 with its f32 scales
# multiplied by 1 + u, |u| ≤ 2^-11 (less than one f16 step), measured mean KL
# 0.00020 – 0.00091 (max row 0.0006 – 0.0175) over four draws.  With f16 block
# scales (archc quantize's default) deepseek_v3 int8 measures 0.0029 (max row
# 0.056) and llama4 int8 0.0092, 29 of 32 — all of that one prompt row (KL 0.28,
# every other row ≤ 0.001); their decoded weights are the independent
# reference's exactly and the kernels agree with the f32 model on them (KL
# 0.0009, 0.0002).  Dense fixtures do not move (qwen3 int8 0.00019 with f16
# scales, 0.00017 with f32).  Bounds of their own, with margin; the scale-f32
# tests below keep the default bound on the f32-scale path.
set(ARCHC_QUANT_KL_llama4_int8 0.03)
set(ARCHC_QUANT_TOP1_llama4_int8 24)
set(ARCHC_QUANT_KL_deepseek_v3_int8 0.01)
set(ARCHC_QUANT_TOP1_deepseek_v3_int8 26)
set(ARCHC_QUANT_KL_llama4_int4 0.2)
set(ARCHC_QUANT_TOP1_llama4_int4 6)
set(ARCHC_QUANT_KL_llama4_fp8 0.06)
set(ARCHC_QUANT_TOP1_llama4_fp8 15)
set(ARCHC_QUANT_KL_llama4_mxfp4 0.25)
set(ARCHC_QUANT_TOP1_llama4_mxfp4 4)
# quant.<NAME>: quantise FX to FMT → import → compile → run, with the format's
# bounds (or the fixture's own, where set above)
function(archc_quant_test name fx fmt work)
  set(kl ${ARCHC_QUANT_KL_${fmt}})
  set(top1 ${ARCHC_QUANT_TOP1_${fmt}})
  if(DEFINED ARCHC_QUANT_KL_${fx}_${fmt})
    set(kl ${ARCHC_QUANT_KL_${fx}_${fmt}})
    set(top1 ${ARCHC_QUANT_TOP1_${fx}_${fmt}})
  endif()
  add_test(NAME quant.${name}
           COMMAND bash ${ARCHC_TEST_DIR}/quant/run_quant.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${fx} ${fmt} ${CMAKE_BINARY_DIR}/quant-work/${work} ${kl} ${top1})
endfunction()
foreach(fx ${ARCHC_QUANT_FIXTURES})
  foreach(fmt int8 int4 fp8 mxfp4)
    archc_quant_test(${fx}.${fmt} ${fx} ${fmt} ${fx}-${fmt})
  endforeach()
endforeach()
# the float checkpoints of other dtypes (the kept matrices stay bf16 / f16)
foreach(case llama_bf16:int4 qwen3_f16:int8)
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 fx)
  list(GET parts 1 fmt)
  archc_quant_test(${fx}.${fmt} ${fx} ${fmt} ${fx}-${fmt})
endforeach()
# --keep: with fp8 (the description's keep list applies to fp8 too), and Llama 4's
# stacked experts kept while its shared expert is quantised (two formats in one kernel)
foreach(case qwen3:fp8:o_proj llama4:int8:feed_forward.experts gpt_oss:mxfp4:mlp.experts)
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 fx)
  list(GET parts 1 fmt)
  list(GET parts 2 pat)
  archc_quant_test(${fx}.${fmt}.keep ${fx} ${fmt} ${fx}-${fmt}-keep)
  set_tests_properties(quant.${fx}.${fmt}.keep PROPERTIES ENVIRONMENT "ARCHC_QUANTIZE_FLAGS=--keep ${pat}")
endforeach()
# f32 block scales (--scale-dtype f32; checkpoints archc wrote before f16 became
# the default): dense, MoE, MLA and stacked experts, int8 and int4, default bounds
foreach(case qwen3:int8 qwen3_moe:int4 gpt_oss:int4)
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 fx)
  list(GET parts 1 fmt)
  archc_quant_test(${fx}.${fmt}.scale-f32 ${fx} ${fmt} ${fx}-${fmt}-scale-f32)
  set_tests_properties(quant.${fx}.${fmt}.scale-f32 PROPERTIES ENVIRONMENT "ARCHC_QUANTIZE_FLAGS=--scale-dtype f32")
endforeach()
# llama4 and deepseek_v3 int8 with f32 scales: the format's default bound (their f16-scale tests have their own, above)
add_test(NAME quant.deepseek_v3.int8.scale-f32
         COMMAND bash ${ARCHC_TEST_DIR}/quant/run_quant.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/deepseek_v3 int8 ${CMAKE_BINARY_DIR}/quant-work/deepseek_v3-int8-scale-f32
                 ${ARCHC_QUANT_KL_int8} ${ARCHC_QUANT_TOP1_int8})
set_tests_properties(quant.deepseek_v3.int8.scale-f32 PROPERTIES ENVIRONMENT "ARCHC_QUANTIZE_FLAGS=--scale-dtype f32")
add_test(NAME quant.llama4.int8.scale-f32
         COMMAND bash ${ARCHC_TEST_DIR}/quant/run_quant.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/llama4 int8 ${CMAKE_BINARY_DIR}/quant-work/llama4-int8-scale-f32
                 ${ARCHC_QUANT_KL_int8} ${ARCHC_QUANT_TOP1_int8})
set_tests_properties(quant.llama4.int8.scale-f32 PROPERTIES ENVIRONMENT "ARCHC_QUANTIZE_FLAGS=--scale-dtype f32")
# the MoE fixture in 4-token prefill chunks without the expert-group pass (GEMV per expert)
add_test(NAME quant.qwen3_moe.int4.chunk4-no-expert-group
         COMMAND bash ${ARCHC_TEST_DIR}/quant/run_quant.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/qwen3_moe int4 ${CMAKE_BINARY_DIR}/quant-work/qwen3_moe-int4-chunk4
                 ${ARCHC_QUANT_KL_int4} ${ARCHC_QUANT_TOP1_int4} --prefill-chunk=4 --disable-pass=expert-group)
add_test(NAME quant.bad_input
         COMMAND bash ${ARCHC_TEST_DIR}/quant/bad_input.sh $<TARGET_FILE:archc> ${ARCHC_TEST_DIR}/fixtures
                 ${CMAKE_BINARY_DIR}/quant-work/bad)
add_test(NAME quant.sharded
         COMMAND bash ${ARCHC_TEST_DIR}/quant/sharded.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                 ${ARCHC_TEST_DIR}/fixtures/qwen3 ${CMAKE_BINARY_DIR}/quant-work/sharded)
# the kernels against a double-precision reference (partial blocks, ragged tiles, GLU, bias,
# residual), natively and for AArch64 under qemu (NEON with and without the dot product)
add_executable(test_quant_kernels ${ARCHC_TEST_DIR}/quant/test_quant_kernels.c)
target_link_libraries(test_quant_kernels PRIVATE archc_rt m)
target_compile_options(test_quant_kernels PRIVATE -O2 -march=native)
add_test(NAME quant.kernels COMMAND test_quant_kernels)
# decode rows 2 and 4 side by side (chosen at start-up by CPU vendor; 4 with the AVX-512 kernel)
foreach(s 2 4)
  add_test(NAME quant.kernels.gemv_streams${s} COMMAND test_quant_kernels)
  set_tests_properties(quant.kernels.gemv_streams${s} PROPERTIES ENVIRONMENT "ARCHC_GEMV_STREAMS=${s}")
endforeach()
# ... and through the AVX2 kernels (the ymm GEMM of CPUs without AVX-512 VNNI)
# and the scalar C on this machine, whatever -march=native picks.
foreach(isa avx2 scalar)
  add_executable(test_quant_kernels_${isa} ${ARCHC_TEST_DIR}/quant/test_quant_kernels.c)
  target_link_libraries(test_quant_kernels_${isa} PRIVATE archc_rt m)
  if(isa STREQUAL avx2)
    target_compile_options(test_quant_kernels_${isa} PRIVATE -O2 -march=haswell)
  else()
    target_compile_options(test_quant_kernels_${isa} PRIVATE -O2 -mno-avx -mno-sse3)
  endif()
  add_test(NAME quant.kernels.${isa} COMMAND test_quant_kernels_${isa})
endforeach()
add_test(NAME quant.kernels.neon COMMAND bash ${ARCHC_TEST_DIR}/quant/run_neon.sh ${ARCHC_ROOT} ${CMAKE_BINARY_DIR}/quant-work/neon)
set_tests_properties(quant.kernels.neon PROPERTIES SKIP_RETURN_CODE 77)
# --quantize-embeddings: the embedding lookup decodes int8/int4/MXFP4 rows; a tied
# lm_head reads the same quantised tensor (llama_tied), an untied one its own (qwen3),
# and Gemma's embedding scale applies after decoding (gemma3)
foreach(case llama_tied:int8 llama_tied:int4 llama_tied:mxfp4 qwen3:int4 gemma3:int8)
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 fx)
  list(GET parts 1 fmt)
  add_test(NAME quant.${fx}.${fmt}.embeddings
           COMMAND bash ${ARCHC_TEST_DIR}/quant/run_quant.sh $<TARGET_FILE:archc> $<TARGET_FILE:compare_logits>
                   ${ARCHC_TEST_DIR}/fixtures/${fx} ${fmt} ${CMAKE_BINARY_DIR}/quant-work/${fx}-${fmt}-embeddings
                   ${ARCHC_QUANT_KL_${fmt}} ${ARCHC_QUANT_TOP1_${fmt}})
  set_tests_properties(quant.${fx}.${fmt}.embeddings PROPERTIES ENVIRONMENT "ARCHC_QUANTIZE_FLAGS=--quantize-embeddings")
endforeach()
