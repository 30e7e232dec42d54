# SIMD kernels (runtime/archc_kernels.h) against naive double-precision loops.
add_executable(test_kernels ${ARCHC_TEST_DIR}/kernels/test_kernels.c)
target_link_libraries(test_kernels PRIVATE archc_rt)
target_compile_options(test_kernels PRIVATE -O2 -march=native)
add_test(NAME kernels COMMAND test_kernels)
# The decode GEMV's row orders are chosen at start-up (by CPU vendor): run the
# others too, rows one after another and 2 / 4 side by side, and the prefill
# without AMX where the CPU has it (ARCHC_AMX=0: the vdpbf16ps kernels).
foreach(s 1 2 4)
  add_test(NAME kernels.gemv_streams${s} COMMAND test_kernels)
  set_tests_properties(kernels.gemv_streams${s} PROPERTIES ENVIRONMENT "ARCHC_GEMV_STREAMS=${s};ARCHC_AMX=0")
endforeach()
# The f32 prefill GEMM reads the weights in place on AVX-512 (rt_gemm_panel_w);
# ARCHC_GEMM_INPLACE=0 runs the packed panels (rt_gemm_panel) there instead.
add_test(NAME kernels.gemm_packed COMMAND test_kernels)
set_tests_properties(kernels.gemm_packed PROPERTIES ENVIRONMENT "ARCHC_GEMM_INPLACE=0")
# The same kernels through the NEON path (AArch64 cross build under qemu; skipped without them).
add_test(NAME kernels.neon COMMAND bash ${ARCHC_TEST_DIR}/kernels/run_neon.sh ${ARCHC_ROOT} ${CMAKE_BINARY_DIR}/neon-work)
set_tests_properties(kernels.neon PROPERTIES SKIP_RETURN_CODE 77)
# ... and through the AVX2 and scalar paths on this machine.
foreach(isa avx2 scalar)
  add_executable(test_kernels_${isa} ${ARCHC_TEST_DIR}/kernels/test_kernels.c)
  target_link_libraries(test_kernels_${isa} PRIVATE archc_rt)
  if(isa STREQUAL avx2)
    target_compile_options(test_kernels_${isa} PRIVATE -O2 -march=haswell)
  else()
    target_compile_options(test_kernels_${isa} PRIVATE -O2 -mno-avx -mno-sse3)
  endif()
  add_test(NAME kernels.${isa} COMMAND test_kernels_${isa})
endforeach()
