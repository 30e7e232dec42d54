# The x86 int8/int4/MXFP4 kernels (runtime/archc_quant.h: AVX-512 VNNI where
# -march=native has it, else the AVX2 GEMM) on bench/quant_gemm.c's shapes
# against a double-precision reference: its correctness check alone
# (bench/quant_gemm_check.c), no timings; quant_gemm.check.avx2 the AVX2
# kernels on any x86 with AVX2.  Skipped (77) on CPUs without AVX2.
add_executable(quant_gemm_check ${ARCHC_ROOT}/bench/quant_gemm_check.c)
target_link_libraries(quant_gemm_check PRIVATE archc_rt)
target_compile_options(quant_gemm_check PRIVATE -O2 -march=native)
add_test(NAME quant_gemm.check COMMAND quant_gemm_check)
set_tests_properties(quant_gemm.check PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
add_executable(quant_gemm_check_avx2 ${ARCHC_ROOT}/bench/quant_gemm_check.c)
target_link_libraries(quant_gemm_check_avx2 PRIVATE archc_rt)
target_compile_options(quant_gemm_check_avx2 PRIVATE -O2 -march=haswell)
add_test(NAME quant_gemm.check.avx2 COMMAND quant_gemm_check_avx2)
set_tests_properties(quant_gemm.check.avx2 PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
