/*
 * tests/llvm/test_llvm_tools.c — codegen/llvm_tools.h with the Clang/LLVM/lld
 * libraries (built only when CMake found them):
 *
 *   test_llvm_tools RUNTIME_INCLUDE RUNTIME_LIB TMPDIR
 *
 *  1. in-process clang compiles and links a program against the runtime
 *     natively (one command; then -c twice and a separate link, so the
 *     compiler and lld run several times in one process), and the results run;
 *  2. errors (a syntax error, an undefined symbol at link time) return
 *     non-zero without ending the process, and a link after them still works;
 *  3. cross builds: --target=aarch64-linux-gnu -static (run under qemu-aarch64
 *     when it is installed) and --target=x86_64-linux-gnu -static;
 *  4. llvm_jit_run runs a C file that uses the runtime (rt_alloc, the thread
 *     pool, whose workers use thread-local storage) and libm's expf, and
 *     returns main's exit code.
 * A 4th argument "sanitized" (an ARCHC_SANITIZE build: libarchc_rt.a was
 * compiled by gcc with -fsanitize=address,undefined) links the native programs
 * with gcc's own sanitizer runtimes, -lasan -lubsan (clang's -fsanitize would
 * link clang's, which gcc's instrumentation does not match).
 * Prints "SKIP ..." for parts the machine cannot run (no aarch64 sysroot or
 * qemu); exit status 0 when every part that ran passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "llvm_tools.h"

static int failures, sanitized;
static const char *rt_inc, *rt_lib, *tmp;
static char *paths[64];
static int n_paths;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
            failures++;                                          \
        }                                                        \
    } while (0)

static char *path(const char *name) { /* tmp/name, freed at the end */
    size_t n = strlen(tmp) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p || n_paths == 64) exit(2);
    paths[n_paths++] = p;
    snprintf(p, n, "%s/%s", tmp, name);
    return p;
}

static void write_file(const char *p, const char *text) {
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        perror(p);
        exit(2);
    }
}

/* Run a shell command; its stdout (first line) into out. Returns the exit status. */
static int run_cmd(const char *cmd, char *out, size_t n) {
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    out[0] = 0;
    if (!fgets(out, (int)n, p)) out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int clang(const char **args) {
    int n = 0;
    while (args[n]) n++;
    return llvm_clang_main(n, args);
}

/* A link with the runtime: in a sanitized build, with gcc's sanitizer runtimes
 * (first: libasan must come before the other libraries). */
static int clang_rt(const char **args) {
    const char *v[64];
    int n = 0;
    v[n++] = args[0];
    if (sanitized) {
        v[n++] = "-lasan";
        v[n++] = "-lubsan";
    }
    for (int i = 1; args[i] && n < 63; i++) v[n++] = args[i];
    v[n] = NULL;
    return clang(v);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static const char *HELLO =
    "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <immintrin.h>\n#include \"archc_rt.h\"\n"
    "int main(int argc, char **argv) {\n"
    "    (void)argv;\n"
    "    float *p = rt_alloc(64 * sizeof(float));\n"
    "    for (int i = 0; i < 64; i++) p[i] = (float)i;\n"
    "    volatile float z = 0.0f;\n"
    "    printf(\"hello %d %.3f\\n\", (int)p[41] + argc, (double)expf(z));\n"
    "    rt_free(p);\n"
    "    return 0;\n"
    "}\n";

static const char *PLAIN = "#include <stdio.h>\n#include <stddef.h>\n#include <math.h>\n"
                           "int main(void) { volatile double x = 2.0; printf(\"plain %d\\n\", (int)(sqrt(x) * 100)); return 0; }\n";

static void test_native(void) {
    char out[256];
    char inc[4200];
    snprintf(inc, sizeof inc, "-I%s", rt_inc);
    char *src = path("hello.c");
    write_file(src, HELLO);
    char *exe = path("hello");
    const char *a[] = {"clang", "-O3", "-march=native", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", inc, src, rt_lib, "-lm",
                       "-lpthread", "-o", exe, NULL};
    CHECK(clang_rt(a) == 0, "native build");
    CHECK(run_cmd(exe, out, sizeof out) == 0 && !strcmp(out, "hello 42 1.000"), "native run printed '%s'", out);

    /* -c twice, then a link of the objects: several compiles and links in one process */
    char *o1 = path("hello.o"), *o2 = path("plain.o"), *exe2 = path("hello2");
    const char *c1[] = {"clang", "-O2", "-std=c11", "-mllvm", "-unroll-max-count=4", inc, "-c", src, "-o", o1, NULL};
    CHECK(clang(c1) == 0 && exists(o1), "compile -c");
    char *psrc = path("plain.c");
    write_file(psrc, PLAIN);
    const char *c2[] = {"clang", "-O2", "-mllvm", "-unroll-max-count=4", "-c", psrc, "-o", o2, NULL}; /* -mllvm twice */
    CHECK(clang(c2) == 0 && exists(o2), "compile -c plain");
    const char *l1[] = {"clang", o1, rt_lib, "-lm", "-lpthread", "-o", exe2, NULL};
    CHECK(clang_rt(l1) == 0, "link objects");
    CHECK(run_cmd(exe2, out, sizeof out) == 0 && !strcmp(out, "hello 42 1.000"), "linked run printed '%s'", out);

    /* errors: non-zero, the process goes on */
    char *bad = path("bad.c");
    write_file(bad, "int main(void) { return 0 }\n");
    const char *e1[] = {"clang", "-c", bad, "-o", path("bad.o"), NULL};
    fprintf(stderr, "(a syntax error is expected here:)\n");
    CHECK(clang(e1) != 0, "syntax error returned 0");
    CHECK(!exists(path("bad.o")), "syntax error left an object");
    char *undef = path("undef.c");
    write_file(undef, "void no_such_function(void);\nint main(void) { no_such_function(); return 0; }\n");
    const char *e2[] = {"clang", undef, "-o", path("undef"), NULL};
    fprintf(stderr, "(an undefined symbol is expected here:)\n");
    CHECK(clang(e2) != 0, "undefined symbol returned 0");
    const char *e3[] = {"clang", "-c", path("no-such-file.c"), NULL};
    CHECK(clang(e3) != 0, "missing input returned 0");
    const char *e4[] = {"clang", "--no-such-flag", psrc, NULL};
    CHECK(clang(e4) != 0, "unknown flag returned 0");

    /* and a link after the failures */
    char *exe3 = path("plain");
    const char *l2[] = {"clang", o2, "-lm", "-o", exe3, NULL};
    CHECK(clang(l2) == 0, "link after errors");
    CHECK(run_cmd(exe3, out, sizeof out) == 0 && !strcmp(out, "plain 141"), "plain run printed '%s'", out);
}

static void test_cross(void) {
    char out[256], cmd[4400];
    char *psrc = path("plain.c");
    /* x86-64, static */
    char *sx = path("plain-x86-static");
    const char *a[] = {"clang", "--target=x86_64-linux-gnu", "-static", "-O3", "-march=x86-64-v2", psrc, "-lm", "-o", sx, NULL};
    CHECK(clang(a) == 0, "x86_64 static build");
    CHECK(run_cmd(sx, out, sizeof out) == 0 && !strcmp(out, "plain 141"), "x86_64 static run printed '%s'", out);
    snprintf(cmd, sizeof cmd, "file '%s' 2>/dev/null | grep -q 'statically linked'", sx);
    if (system("command -v file >/dev/null 2>&1") == 0) CHECK(system(cmd) == 0, "%s is not static", sx);

    /* aarch64, static */
    if (!exists("/usr/aarch64-linux-gnu/include/stdio.h")) {
        printf("SKIP aarch64: no aarch64 sysroot (apt-get install libc6-dev-arm64-cross gcc-aarch64-linux-gnu)\n");
        return;
    }
    char *sa = path("plain-a64");
    const char *b[] = {"clang", "--target=aarch64-linux-gnu", "-static", "-O3", "-march=armv8-a", psrc, "-lm", "-o", sa, NULL};
    CHECK(clang(b) == 0, "aarch64 static build");
    if (system("command -v qemu-aarch64 >/dev/null 2>&1") != 0) {
        printf("SKIP aarch64 run: no qemu-aarch64\n");
        return;
    }
    snprintf(cmd, sizeof cmd, "qemu-aarch64 '%s'", sa);
    CHECK(run_cmd(cmd, out, sizeof out) == 0 && !strcmp(out, "plain 141"), "aarch64 run printed '%s'", out);
}

static const char *JIT_MAIN =
    "#include <math.h>\n#include <stdio.h>\n#include <string.h>\n#include \"archc_rt.h\"\n"
    "extern int helper(int);\n"
    "static float *buf;\n"
    "static void fill(void *ctx, int b, int e) { (void)ctx; for (int i = b; i < e; i++) buf[i] = expf(0.0f) * (float)i; }\n"
    "int main(int argc, char **argv) {\n"
    "    if (argc != 2 || strcmp(argv[1], \"go\")) return 3;\n"
    "    buf = rt_alloc(1000 * sizeof(float));\n"
    "    rt_threads_init(2);\n"
    "    rt_parallel_for(1000, fill, NULL);\n"
    "    rt_threads_shutdown();\n"
    "    double s = 0; for (int i = 0; i < 1000; i++) s += buf[i];\n"
    "    rt_free(buf);\n"
    "    volatile float x = 1.0f;\n"
    "    printf(\"jit sum %.0f exp %.4f pow %.1f\\n\", s, (double)expf(x), (double)powf(x + 1.0f, 10.0f));\n"
    "    return s == 499500.0 ? helper(40) : 1;\n"
    "}\n";
static const char *JIT_HELPER = "int helper(int x) { return x + 2; }\n";

static void test_jit(void) {
    char inc[4200];
    snprintf(inc, sizeof inc, "-I%s", rt_inc);
    char *m = path("jit_main.c"), *h = path("jit_helper.c");
    write_file(m, JIT_MAIN);
    write_file(h, JIT_HELPER);
    const char *srcs[] = {m, h};
    const char *cflags[] = {"-O3", "-march=native", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", inc};
    char *argv[] = {"jit", "go", NULL};
    int rc = llvm_jit_run(2, srcs, 6, cflags, rt_lib, 2, argv);
    CHECK(rc == 42, "llvm_jit_run returned %d, not 42", rc);
    /* a second run in the same process, and a compile error */
    rc = llvm_jit_run(2, srcs, 6, cflags, rt_lib, 2, argv);
    CHECK(rc == 42, "second llvm_jit_run returned %d, not 42", rc);
    char *bad = path("bad.c");
    fprintf(stderr, "(a syntax error is expected here:)\n");
    rc = llvm_jit_run(1, (const char *const *)&bad, 6, cflags, rt_lib, 2, argv);
    CHECK(rc == -1, "llvm_jit_run of a bad file returned %d", rc);
}

/* Thread-local storage in JIT-linked code: clang-compiled (the modules) and
 * gcc-compiled -fPIC objects from an archive (local- and general-dynamic
 * sequences, as in libarchc_rt.a): every thread must see its own copy. */
static const char *TLS_LIB = "static _Thread_local int ld_var;\n_Thread_local int gd_var;\n"
                             "int *ld_addr(void) { return &ld_var; }\nint *gd_addr(void) { return &gd_var; }\n"
                             "int bump(void) { gd_var += 2; return ++ld_var; }\n";
static const char *TLS_MAIN =
    "#include <pthread.h>\n#include <stdint.h>\n#include <stdio.h>\n"
    "int *ld_addr(void); int *gd_addr(void); int bump(void);\n"
    "static _Thread_local int mine;\n"
    "static void *th(void *a) {\n"
    "    (void)a;\n"
    "    for (int i = 0; i < 1000; i++) { bump(); mine += 3; }\n"
    "    return (void *)(intptr_t)(*ld_addr() == 1000 && *gd_addr() == 2000 && mine == 3000);\n"
    "}\n"
    "int main(void) {\n"
    "    pthread_t t[2]; void *r[2];\n"
    "    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, th, NULL);\n"
    "    for (int i = 0; i < 2; i++) pthread_join(t[i], &r[i]);\n"
    "    int ok = r[0] && r[1] && *ld_addr() == 0 && *gd_addr() == 0 && mine == 0;\n"
    "    ok = ok && bump() == 1 && *gd_addr() == 2;\n"
    "    printf(\"tls %s\\n\", ok ? \"ok\" : \"WRONG\");\n"
    "    return ok ? 7 : 1;\n"
    "}\n";

static void test_jit_tls(void) {
    char out[256], cmd[8800];
    if (system("command -v cc >/dev/null 2>&1") != 0) {
        printf("SKIP jit tls: no cc to build the gcc-compiled archive\n");
        return;
    }
    char *lsrc = path("tls_lib.c"), *lobj = path("tls_lib.o"), *lib = path("libtls.a"), *msrc = path("tls_main.c");
    write_file(lsrc, TLS_LIB);
    write_file(msrc, TLS_MAIN);
    snprintf(cmd, sizeof cmd, "cc -O2 -fPIC -c '%s' -o '%s' && rm -f '%s' && ar rcs '%s' '%s'", lsrc, lobj, lib, lib, lobj);
    CHECK(run_cmd(cmd, out, sizeof out) == 0, "building %s", lib);
    const char *cflags[] = {"-O2"};
    char *argv[] = {"tls", NULL};
    int rc = llvm_jit_run(1, (const char *const *)&msrc, 1, cflags, lib, 1, argv);
    CHECK(rc == 7, "llvm_jit_run (thread-local storage) returned %d, not 7", rc);
}

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "sanitized"))) {
        fprintf(stderr, "usage: %s RUNTIME_INCLUDE RUNTIME_LIB TMPDIR [sanitized]\n", argv[0]);
        return 2;
    }
    sanitized = argc == 5;
    rt_inc = argv[1];
    rt_lib = argv[2];
    tmp = argv[3];
    mkdir(tmp, 0777);
    if (!llvm_available() || !llvm_version()) {
        printf("SKIP: archc was built without the LLVM libraries\n");
        return 0;
    }
    printf("LLVM %s\n", llvm_version());
    test_native();
    test_cross();
    test_jit();
    test_jit_tls();
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
