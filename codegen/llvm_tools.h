/*
 * codegen/llvm_tools.h — the Clang/LLVM libraries inside archc.
 *
 * When archc is built with the Clang, LLVM and lld libraries (CMake finds them;
 * see README), the emitted C is compiled and linked in-process, and
 * `archc run` compiles it in memory and runs it (ORC JIT).  Without them,
 * codegen/llvm_stub.c provides these functions: llvm_available() is 0 and
 * archc starts an external C compiler instead (codegen/build.c).
 */
#ifndef ARCHC_LLVM_TOOLS_H
#define ARCHC_LLVM_TOOLS_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when archc was built with the Clang/LLVM/lld libraries. */
int llvm_available(void);

/* The LLVM version archc was built with ("14.0.6"), or NULL. */
const char *llvm_version(void);

/* Run a clang command line in-process, exactly as if `clang argv[1..]` had
 * been run: the compile jobs run in this process (no cc1 subprocess) and the
 * link job runs lld's ELF linker in this process (no ld subprocess).  argv[0]
 * is the driver name ("clang").  Flags are the driver's: --target=TRIPLE,
 * -static, -O3, -march=..., -I, -D, -c, -o, object files and archives.
 * Returns 0 on success, non-zero after printing the diagnostics to stderr. */
int llvm_clang_main(int argc, const char **argv);

/* Compile the C files srcs[0..n_src) in memory with the clang flags cflags
 * (-O, -march, -I, -D ...), link them in a JIT with the static archive
 * runtime_lib and this process's C library, and call their main(run_argc,
 * run_argv).  Returns main's return value, or -1 (message printed) when the
 * compilation or the JIT link fails. */
int llvm_jit_run(int n_src, const char *const *srcs, int n_cflags, const char *const *cflags,
                 const char *runtime_lib, int run_argc, char **run_argv);

#ifdef __cplusplus
}
#endif
#endif
