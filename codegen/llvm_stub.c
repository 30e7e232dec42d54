/*
 * codegen/llvm_stub.c — codegen/llvm_tools.h for an archc built without the
 * Clang/LLVM libraries: nothing is available, and codegen/build.c starts an
 * external C compiler instead.  CMake compiles this file only when it did not
 * find the libraries (it says so at configure time).
 */
#include <stdio.h>
#include "llvm_tools.h"

int llvm_available(void) { return 0; }
const char *llvm_version(void) { return NULL; }

int llvm_clang_main(int argc, const char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "archc: error: this archc was built without the Clang/LLVM libraries\n");
    return 1;
}

int llvm_jit_run(int n_src, const char *const *srcs, int n_cflags, const char *const *cflags,
                 const char *runtime_lib, int run_argc, char **run_argv) {
    (void)n_src; (void)srcs; (void)n_cflags; (void)cflags; (void)runtime_lib; (void)run_argc; (void)run_argv;
    fprintf(stderr, "archc: error: `archc run` needs archc built with the Clang/LLVM libraries "
                    "(apt-get install libclang-cpp14-dev llvm-14-dev liblld-14-dev, then rebuild archc)\n");
    return -1;
}
