# The AVX-512 VNNI int8/int4/MXFP4 kernels (runtime/archc_quant.h) on
# bench/quant_gemm.c's shapes against a double-precision reference: its
# correctness check alone (bench/quant_gemm_check.c), no timings.  Skipped (77)
# on CPUs without AVX-512 VNNI.
add_executable(quant_gemm_check ${ARCHC_ROOT}/bench/quant_gemm_check.c)
target_link_libraries(quant_gemm_check PRIVATE archc_rt)
target_compile_options(quant_gemm_check PRIVATE -O2 -march=native)
add_test(NAME quant_gemm.check COMMAND quant_gemm_check)
set_tests_properties(quant_gemm.check PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
