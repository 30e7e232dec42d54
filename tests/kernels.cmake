# SIMD kernels (runtime/archc_kernels.h) against naive double-precision loops.
add_executable(test_kernels ${ARCHC_TEST_DIR}/kernels/test_kernels.c)
target_link_libraries(test_kernels PRIVATE archc_rt)
target_compile_options(test_kernels PRIVATE -O2 -march=native)
add_test(NAME kernels COMMAND test_kernels)
