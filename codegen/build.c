/*
 * codegen/build.c — turn an emitted .c file into an executable.
 *
 *   $CC (default: cc) -O3 -march=native -std=c11 -I<runtime> FILE.c <libarchc_rt.a> -lm -lpthread
 *
 * The runtime's location is fixed when archc is built (ARCHC_RUNTIME_INCLUDE,
 * ARCHC_RUNTIME_LIB) and can be overridden with ARCHC_RUNTIME_INCLUDE /
 * ARCHC_RUNTIME_LIB in the environment.  Extra flags: $ARCHC_CFLAGS (e.g.
 * "-march=x86-64-v3" to build for another machine, or "-O0 -g").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "codegen.h"

#ifndef ARCHC_RUNTIME_INCLUDE
#define ARCHC_RUNTIME_INCLUDE "runtime"
#endif
#ifndef ARCHC_RUNTIME_LIB
#define ARCHC_RUNTIME_LIB "libarchc_rt.a"
#endif
#ifndef ARCHC_EXTRA_CFLAGS
#define ARCHC_EXTRA_CFLAGS ""
#endif

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

int build_executable(const char *c_path, const char *exe_path) {
    const char *cc = env_or("CC", "cc");
    const char *inc = env_or("ARCHC_RUNTIME_INCLUDE", ARCHC_RUNTIME_INCLUDE);
    const char *lib = env_or("ARCHC_RUNTIME_LIB", ARCHC_RUNTIME_LIB);
    const char *extra = env_or("ARCHC_CFLAGS", "");
    size_t cap = strlen(cc) + strlen(inc) + strlen(lib) + strlen(extra) + strlen(c_path) + strlen(exe_path) + 512;
    char *cmd = malloc(cap);
    if (!cmd) return -1;
    snprintf(cmd, cap, "%s -O3 -march=native -std=c11 -D_DEFAULT_SOURCE -Wall %s %s -I'%s' '%s' '%s' -lm -lpthread -o '%s'",
             cc, ARCHC_EXTRA_CFLAGS, extra, inc, c_path, lib, exe_path);
    if (getenv("ARCHC_VERBOSE")) fprintf(stderr, "archc: %s\n", cmd);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0) {
        fprintf(stderr, "archc: error: building %s failed (%s exited with status %d)\n", exe_path, cc,
                WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
        return -1;
    }
    return 0;
}
