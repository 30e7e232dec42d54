/*
 * codegen/build.c — turn an emitted .c file into an executable.
 *
 *   $CC (default: cc) -O3 -march=native -std=c11 -I<runtime> FILE.c <libarchc_rt.a> -lm -lpthread -o OUT
 *
 * The compiler is started directly (fork + execvp) with an argument vector:
 * no shell ever sees a file name, so a path such as  x';touch INJECTED;'  is
 * just a strange file name.  $CC and $ARCHC_CFLAGS are split at white space
 * (no quoting, no expansion): "ccache gcc" and "-O0 -g" work as expected.
 *
 * The runtime's location is fixed when archc is built (ARCHC_RUNTIME_INCLUDE,
 * ARCHC_RUNTIME_LIB) and can be overridden with ARCHC_RUNTIME_INCLUDE /
 * ARCHC_RUNTIME_LIB in the environment.  Extra flags: $ARCHC_CFLAGS (e.g.
 * "-march=x86-64-v3" to build for another machine, or "-O0 -g").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
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

typedef struct Argv {
    char **v;
    int n, cap;
    char *store[4]; /* strdup'd strings split into words, freed at the end */
    int n_store;
} Argv;

static int push(Argv *a, char *s) {
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        char **v = realloc(a->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    return 0;
}

/* Push the white-space separated words of s (a copy is kept in a->store). */
static int push_words(Argv *a, const char *s) {
    char *c = strdup(s);
    if (!c || a->n_store >= 4) { free(c); return -1; }
    a->store[a->n_store++] = c;
    for (char *w = strtok(c, " \t\n"); w; w = strtok(NULL, " \t\n"))
        if (push(a, w)) return -1;
    return 0;
}

int build_executable(const char *c_path, const char *exe_path) {
    const char *cc = env_or("CC", "cc");
    const char *inc = env_or("ARCHC_RUNTIME_INCLUDE", ARCHC_RUNTIME_INCLUDE);
    const char *lib = env_or("ARCHC_RUNTIME_LIB", ARCHC_RUNTIME_LIB);
    const char *extra = env_or("ARCHC_CFLAGS", "");
    char *incflag = malloc(strlen(inc) + 3);
    Argv a = {0};
    int rc = -1;
    if (!incflag) goto done;
    sprintf(incflag, "-I%s", inc);
    if (push_words(&a, cc) || a.n == 0) { fprintf(stderr, "archc: error: CC is empty\n"); goto done; }
    static char *fixed[] = {"-O3", "-march=native", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (push(&a, fixed[i])) goto done;
    if (push_words(&a, ARCHC_EXTRA_CFLAGS) || push_words(&a, extra)) goto done;
    /* "--" would end the options for some drivers but not all: a file name that
     * starts with '-' is made relative instead (./-x.c). */
    char *cfile = malloc(strlen(c_path) + 3), *ofile = malloc(strlen(exe_path) + 3);
    if (!cfile || !ofile) { free(cfile); free(ofile); goto done; }
    sprintf(cfile, "%s%s", c_path[0] == '-' ? "./" : "", c_path);
    sprintf(ofile, "%s%s", exe_path[0] == '-' ? "./" : "", exe_path);
    if (push(&a, incflag) || push(&a, cfile) || push(&a, (char *)lib) || push(&a, "-lm") || push(&a, "-lpthread") || push(&a, "-o") ||
        push(&a, ofile)) {
        free(cfile);
        free(ofile);
        goto done;
    }
    if (getenv("ARCHC_VERBOSE")) {
        fprintf(stderr, "archc:");
        for (int i = 0; i < a.n; i++) fprintf(stderr, " %s", a.v[i]);
        fputc('\n', stderr);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "archc: error: building %s: cannot start %s: %s\n", exe_path, a.v[0], strerror(errno));
    } else if (pid == 0) {
        execvp(a.v[0], a.v);
        fprintf(stderr, "archc: error: cannot run the C compiler '%s': %s\n", a.v[0], strerror(errno));
        _exit(127);
    } else {
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) rc = 0;
        else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 127))
            fprintf(stderr, "archc: error: building %s failed (%s exited with status %d)\n", exe_path, a.v[0],
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    free(cfile);
    free(ofile);
done:
    free(incflag);
    for (int i = 0; i < a.n_store; i++) free(a.store[i]);
    free(a.v);
    return rc;
}
