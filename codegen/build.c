/*
 * codegen/build.c — turn an emitted .c file into an executable.
 *
 * Two kinds of build:
 *
 *   for this machine (no --target)
 *       COMPILER -O3 -march=native -std=c11 -I<runtime> FILE.c <libarchc_rt.a> -lm -lpthread -o OUT
 *
 *   for a target (--target=x86_64-linux-gnu | aarch64-linux-gnu): a static
 *   executable that runs on any CPU of that architecture.  The runtime is
 *   compiled from its sources for the architecture's baseline, the model once
 *   per instruction-set variant (x86-64: baseline, v3, v3+AVX-VNNI, v4,
 *   v4+AVX512-BF16/VNNI; AArch64: armv8-a, armv8.2-a+dotprod), each copy
 *   exporting its RtModel under its own name (ARCHC_VARIANT), and a small
 *   generated main() asks runtime/isa.c which copy this CPU runs.  Nothing is
 *   compiled with -march=native.
 *
 * The compiler: --cc=PATH (or $ARCHC_CC) names an external one; otherwise
 * archc compiles and links in-process with the Clang and lld libraries when it
 * was built with them (codegen/llvm_tools.h), else runs "cc" (for a foreign
 * target "TRIPLE-gcc", e.g. aarch64-linux-gnu-gcc).  $CC is not consulted: it
 * names the compiler for other programs.  A sanitizer build of archc (whose
 * libarchc_rt.a is built with gcc's sanitizers) builds native binaries with the
 * external cc, since clang's sanitizer runtime does not link with gcc's.
 *
 * Every compiler is started directly (fork + execvp, or fork + the in-process
 * driver) with an argument vector: no shell ever sees a file name, so a path
 * such as  x';touch INJECTED;'  is just a strange file name.  The compile jobs
 * of a target build run in parallel, one per CPU.  $ARCHC_CFLAGS and --cc are
 * split at white space (no quoting, no expansion): "ccache gcc" and "-O0 -g"
 * work as expected.
 *
 * The runtime's location is fixed when archc is built (ARCHC_RUNTIME_INCLUDE,
 * ARCHC_RUNTIME_LIB) and can be overridden with ARCHC_RUNTIME_INCLUDE /
 * ARCHC_RUNTIME_LIB in the environment.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codegen.h"
#include "llvm_tools.h"

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

/* ── argument vectors ──────────────────────────────────────────────────────── */
typedef struct Argv {
    char **v;
    int n, cap;
} Argv;

/* Every string an Argv holds is its own copy, freed with it. */
static int push(Argv *a, const char *s) {
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        char **v = realloc(a->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(s))) return -1;
    a->v[++a->n] = NULL;
    return 0;
}

static int pushf(Argv *a, const char *fmt, const char *x, const char *y) {
    size_t n = strlen(fmt) + strlen(x) + (y ? strlen(y) : 0) + 1;
    char *s = malloc(n);
    if (!s) return -1;
    snprintf(s, n, fmt, x, y ? y : "");
    int rc = push(a, s);
    free(s);
    return rc;
}

/* Push the white-space separated words of s. */
static int push_words(Argv *a, const char *s) {
    char *c = strdup(s);
    if (!c) return -1;
    int rc = 0;
    for (char *w = strtok(c, " \t\n"); w && rc == 0; w = strtok(NULL, " \t\n")) rc = push(a, w);
    free(c);
    return rc;
}

/* A path as a compiler argument: one that starts with '-' is made relative
 * ("--" would end the options for some drivers but not all). */
static int push_path(Argv *a, const char *p) { return pushf(a, p[0] == '-' ? "./%s%s" : "%s%s", p, NULL); }

static void argv_free(Argv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* ── the compiler ──────────────────────────────────────────────────────────── */
typedef struct Compiler {
    int inproc;      /* the Clang/lld libraries inside archc                  */
    int clang;       /* speaks clang's --target= (in-process, or a clang binary) */
    Argv words;      /* the external command's words ("ccache gcc")            */
} Compiler;

/* The external compiler the user asked for (--cc, else $ARCHC_CC), or NULL. */
static const char *external_cc(const BuildOptions *o) {
    const char *cc = o->cc && *o->cc ? o->cc : getenv("ARCHC_CC");
    return cc && *cc ? cc : NULL;
}

static int choose_compiler(const BuildOptions *o, Compiler *c, const char *foreign_gcc) {
    memset(c, 0, sizeof *c);
    const char *cc = external_cc(o);
    int sanitized = strstr(ARCHC_EXTRA_CFLAGS, "-fsanitize") != NULL && !o->target;
    if (!cc && llvm_available() && !sanitized) {
        c->inproc = c->clang = 1;
        return push(&c->words, "clang");
    }
    if (!cc) cc = foreign_gcc ? foreign_gcc : "cc";
    if (push_words(&c->words, cc)) return -1;
    if (c->words.n == 0) { fprintf(stderr, "archc: error: --cc / ARCHC_CC is empty\n"); return -1; }
    const char *base = strrchr(c->words.v[c->words.n - 1], '/');
    base = base ? base + 1 : c->words.v[c->words.n - 1];
    c->clang = strstr(base, "clang") != NULL;
    return 0;
}

static const char *compiler_name(const Compiler *c) { return c->inproc ? "the in-process Clang" : c->words.v[0]; }

static void print_cmd(const Argv *a) {
    fprintf(stderr, "archc:");
    for (int i = 0; i < a->n; i++) fprintf(stderr, " %s", a->v[i]);
    fputc('\n', stderr);
}

/* Start one job; its pid, or -1. */
static pid_t start_job(const Compiler *c, const Argv *a) {
    if (getenv("ARCHC_VERBOSE")) print_cmd(a);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "archc: error: cannot start %s: %s\n", compiler_name(c), strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (c->inproc) {
            int rc = llvm_clang_main(a->n, (const char **)a->v);
            fflush(NULL);
            _exit(rc == 0 ? 0 : 1);
        }
        execvp(a->v[0], a->v);
        fprintf(stderr, "archc: error: cannot run the C compiler '%s': %s\n", a->v[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* A finished job's wait status: 0 when it succeeded, else -1 and a message
 * (status 127 — the compiler could not be started — was reported by the child). */
static int job_status(const Compiler *c, const char *what, int st) {
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 127))
        fprintf(stderr, "archc: error: %s failed (%s %s %d)\n", what, compiler_name(c),
                WIFEXITED(st) ? "exited with status" : "was killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return -1;
}

/* Wait for a job: 0 when it succeeded. */
static int wait_job(const Compiler *c, pid_t pid, const char *what) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return job_status(c, what, st);
}

/* Run jobs[0..n), at most `par` at a time; 0 when all succeeded.  On a
 * failure the jobs already running finish, no new one starts. */
static int run_jobs(const Compiler *c, Argv *jobs, char **what, int n, int par) {
    pid_t *pids = calloc((size_t)(n ? n : 1), sizeof *pids);
    if (!pids) return -1;
    int next = 0, running = 0, rc = 0;
    while (next < n || running > 0) {
        while (rc == 0 && next < n && running < par) {
            pids[next] = start_job(c, &jobs[next]);
            if (pids[next] < 0) { rc = -1; break; }
            next++;
            running++;
        }
        if (running == 0) break;
        int st = 0;
        pid_t done;
        while ((done = wait(&st)) < 0 && errno == EINTR) {}
        if (done < 0) { rc = -1; break; }
        for (int i = 0; i < next; i++)
            if (pids[i] == done) {
                running--;
                pids[i] = 0;
                if (job_status(c, what[i], st) != 0) rc = -1;
            }
    }
    free(pids);
    return rc;
}

/* ── targets ───────────────────────────────────────────────────────────────── */
typedef struct Variant {
    const char *name;     /* reported by the binary (bench line isa=…, ARCHC_ISA=…) */
    const char *needs;    /* C expression of RT_CPU_* bits (runtime/archc_rt.h)    */
    const char *flags;    /* compiler flags                                        */
} Variant;

typedef struct Target {
    const char *triple, *arch, *foreign_gcc, *baseline;
    const Variant *variants;   /* best first; the last needs nothing */
    int n_variants;
} Target;

static const Variant x86_variants[] = {
    {"x86-64-v4+bf16+vnni", "RT_CPU_X86_V4 | RT_CPU_AVX512BF16 | RT_CPU_AVX512VNNI", "-march=x86-64-v4 -mavx512bf16 -mavx512vnni"},
    {"x86-64-v4", "RT_CPU_X86_V4", "-march=x86-64-v4"},
    {"x86-64-v3+vnni", "RT_CPU_X86_V3 | RT_CPU_AVXVNNI", "-march=x86-64-v3 -mavxvnni"},
    {"x86-64-v3", "RT_CPU_X86_V3", "-march=x86-64-v3"},
    {"x86-64", "0", "-march=x86-64"},
};
/* AArch64's SIMD (NEON) is part of the base architecture: the floor is NEON,
 * not scalar.  The kernels use no SVE, bf16 or i8mm instructions yet, so no
 * variant is built for them. */
static const Variant arm_variants[] = {
    {"armv8.2-a+dotprod", "RT_CPU_ARM_DOTPROD", "-march=armv8.2-a+dotprod"},
    {"armv8-a", "0", "-march=armv8-a"},
};
static const Target targets[] = {
    {"x86_64-linux-gnu", "x86_64", "x86_64-linux-gnu-gcc", "-march=x86-64", x86_variants, 5},
    {"aarch64-linux-gnu", "aarch64", "aarch64-linux-gnu-gcc", "-march=armv8-a", arm_variants, 2},
};

const char *build_target_names(void) { return "x86_64-linux-gnu, aarch64-linux-gnu, cuda, cuda-emu"; }

static const Target *find_target(const char *triple) {
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcmp(triple, targets[i].triple)) return &targets[i];
    /* the vendor field is optional: x86_64-pc-linux-gnu, aarch64-unknown-linux-gnu */
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        size_t al = strlen(targets[i].arch);
        const char *rest = triple + al;
        if (!strncmp(triple, targets[i].arch, al) && rest[0] == '-' && strchr(rest + 1, '-') &&
            !strcmp(strchr(rest + 1, '-'), "-linux-gnu"))
            return &targets[i];
    }
    return NULL;
}

static int host_is(const char *arch) {
#if defined(__x86_64__)
    return !strcmp(arch, "x86_64");
#elif defined(__aarch64__)
    return !strcmp(arch, "aarch64");
#else
    (void)arch;
    return 0;
#endif
}

int build_check_target(const char *triple) {
    if (find_target(triple) || build_is_cuda(triple)) return 0;
    fprintf(stderr, "archc: error: --target=%s: expected one of %s\n", triple, build_target_names());
    return -1;
}

/* The runtime's C sources (every *.c in its directory), sorted. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int runtime_sources(const char *inc, Argv *out) {
    DIR *d = opendir(inc);
    if (!d) { fprintf(stderr, "archc: error: runtime sources %s: %s\n", inc, strerror(errno)); return -1; }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        size_t l = strlen(e->d_name);
        if (l > 2 && !strcmp(e->d_name + l - 2, ".c") && e->d_name[0] != '.') rc = push(out, e->d_name);
    }
    closedir(d);
    if (rc == 0 && out->n == 0) { fprintf(stderr, "archc: error: no runtime sources in %s\n", inc); rc = -1; }
    if (rc == 0) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return rc;
}

/* Remove a build directory and what it holds (one level). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[4608];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

/* Clang's loop unroller partially unrolls every loop whose trip count the
 * specialised code makes a literal (by 64 and more), and the code generator
 * then spends most of its time on the result: the full DeepSeek-V3 C took 62 s
 * at -O3 (gcc: 6 s), 9.7 s without partial and runtime unrolling; full
 * unrolling of small loops (the micro-kernels' register tiles) stays on.
 * Qwen3-0.6B bf16 ran as fast either way (prefill 167-174 tok/s, decode 21-29,
 * 2 threads, AMD EPYC Zen 4) and the binary halved (1.14 MB -> 0.60 MB). */
static const char *const clang_unroll_flags = "-mllvm -unroll-allow-partial=0 -mllvm -unroll-runtime=0";

/* Start an argument vector with the compiler and, for a target, its triple;
 * `compile`: a job that compiles C (clang's unroll limits apply). */
static int job_start(Argv *a, const Compiler *c, const Target *t, int compile) {
    for (int i = 0; i < c->words.n; i++)
        if (push(a, c->words.v[i])) return -1;
    if (t && c->clang && pushf(a, "--target=%s%s", t->triple, NULL)) return -1;
    if (compile && c->clang && push_words(a, clang_unroll_flags)) return -1;
    return 0;
}

/* ── the runtime's objects for a target, cached ────────────────────────────
 * A target build compiles the runtime from source (12 of a tiny model's 18
 * jobs).  Its objects are kept in $ARCHC_CACHE_DIR (default
 * $XDG_CACHE_HOME/archc or ~/.cache/archc; "off" disables the cache), in a
 * directory named after a hash of everything they depend on: the compiler
 * (its words, in-process or not, LLVM's version), the target, the flags and
 * the name and contents of every runtime source and header.  A directory is
 * complete when it exists: it is filled under a temporary name and renamed. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}
static uint64_t fnv_str(uint64_t h, const char *s) { return fnv(h, s ? s : "", strlen(s ? s : "") + 1); }

/* The cache directory for this build's runtime objects in out[cap] (not
 * necessarily existing); 0, or -1 when there is no cache. */
static int runtime_cache_dir(const Compiler *c, const Target *t, const char *inc, const char *extra, char *out, size_t cap) {
    const char *root = getenv("ARCHC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[4096];
    if (root && !strcmp(root, "off")) return -1;
    if (root && *root) snprintf(base, sizeof base, "%s", root);
    else if (xdg && *xdg == '/') snprintf(base, sizeof base, "%s/archc", xdg);
    else if (home && *home == '/') snprintf(base, sizeof base, "%s/.cache/archc", home);
    else return -1;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < c->words.n; i++) h = fnv_str(h, c->words.v[i]);
    h = fnv_str(h, c->inproc ? llvm_version() : "external");
    h = fnv_str(h, t->triple);
    h = fnv_str(h, t->baseline);
    h = fnv_str(h, extra);
    h = fnv_str(h, c->clang ? clang_unroll_flags : "");
    DIR *d = opendir(inc);
    if (!d) return -1;
    Argv names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        size_t l = strlen(e->d_name);
        if (l > 2 && e->d_name[0] != '.' && (!strcmp(e->d_name + l - 2, ".c") || !strcmp(e->d_name + l - 2, ".h"))) rc = push(&names, e->d_name);
    }
    closedir(d);
    if (rc == 0) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    char *buf = malloc(1 << 16);
    for (int i = 0; rc == 0 && buf && i < names.n; i++) {
        char p[4608];
        snprintf(p, sizeof p, "%s/%s", inc, names.v[i]);
        FILE *f = fopen(p, "rb");
        if (!f) { rc = -1; break; }
        h = fnv_str(h, names.v[i]);
        size_t got;
        while ((got = fread(buf, 1, 1 << 16, f)) > 0) h = fnv(h, buf, got);
        if (ferror(f)) rc = -1;
        fclose(f);
    }
    if (!buf) rc = -1;
    free(buf);
    argv_free(&names);
    if (rc != 0) return -1;
    if ((size_t)snprintf(out, cap, "%s/rt-%s-%016llx", base, t->triple, (unsigned long long)h) >= cap) return -1;
    return 0;
}

/* mkdir -p for the cache's root */
static int make_dirs(const char *path) {
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p) return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int build_for_target(const Compiler *c, const Target *t, const char *c_path, const char *exe_path, const char *inc) {
    const char *extra = env_or("ARCHC_CFLAGS", "");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/archc-build-XXXXXX", env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(dir)) { fprintf(stderr, "archc: error: cannot make a build directory in %s: %s\n", env_or("TMPDIR", "/tmp"), strerror(errno)); return -1; }
    Argv srcs = {0}, objs = {0}, link = {0};
    int n_jobs = 0, rc = -1, cap = 0, cached = 0, fill = 0;
    char cache[4096], rtdir[4200];
    Argv *jobs = NULL;
    char **what = NULL;
    char path[4608];
    if (runtime_sources(inc, &srcs)) goto done;
    /* runtime objects: from the cache, or compiled into a new cache entry (or
     * into the build directory when there is no cache) */
    snprintf(rtdir, sizeof rtdir, "%s", dir);
    if (runtime_cache_dir(c, t, inc, extra, cache, sizeof cache) == 0) {
        struct stat st;
        int complete = stat(cache, &st) == 0 && S_ISDIR(st.st_mode);
        for (int i = 0; complete && i < srcs.n; i++) {   /* an entry someone pruned is rebuilt here */
            char obj[4608];
            snprintf(obj, sizeof obj, "%s/rt_%s.o", cache, srcs.v[i]);
            complete = stat(obj, &st) == 0 && S_ISREG(st.st_mode);
        }
        if (complete) {
            cached = 1;
            snprintf(rtdir, sizeof rtdir, "%s", cache);
            if (getenv("ARCHC_VERBOSE")) fprintf(stderr, "archc: the runtime's objects from %s\n", cache);
        } else {
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", cache);
            *strrchr(parent, '/') = 0;
            snprintf(rtdir, sizeof rtdir, "%s.tmp-XXXXXX", cache);
            if (stat(cache, &st) != 0 && make_dirs(parent) == 0 && mkdtemp(rtdir)) fill = 1;
            else snprintf(rtdir, sizeof rtdir, "%s", dir);   /* an unwritable cache: build here */
        }
    }
    cap = srcs.n + t->n_variants + 1;
    jobs = calloc((size_t)cap, sizeof *jobs);
    what = calloc((size_t)cap, sizeof *what);
    if (!jobs || !what) goto done;

    /* the dispatcher: main() and the table of variants */
    snprintf(path, sizeof path, "%s/dispatch.c", dir);
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "archc: error: %s: %s\n", path, strerror(errno)); goto done; }
    fprintf(f, "/* generated by archc: run the best variant of the model this CPU supports (runtime/isa.c) */\n"
               "#include \"archc_rt.h\"\n");
    for (int i = 0; i < t->n_variants; i++) fprintf(f, "const RtModel *archc_model_isa%d(void);\n", i);
    fprintf(f, "static const RtVariant variants[] = {\n");
    for (int i = 0; i < t->n_variants; i++)
        fprintf(f, "    {\"%s\", %s, archc_model_isa%d},\n", t->variants[i].name, t->variants[i].needs, i);
    fprintf(f, "};\nint main(int argc, char **argv) { return rt_dispatch_main(argc, argv, variants, %d); }\n", t->n_variants);
    if (fclose(f) != 0) { fprintf(stderr, "archc: error: writing %s failed\n", path); goto done; }

    /* job i: runtime sources and the dispatcher at the baseline, then the model per variant */
    for (int i = 0; i <= srcs.n + t->n_variants; i++) {
        Argv *a = &jobs[n_jobs];
        int is_rt = i < srcs.n, is_disp = i == srcs.n;
        const Variant *v = is_rt || is_disp ? NULL : &t->variants[i - srcs.n - 1];
        if (is_rt && cached) {   /* compiled before */
            char obj[4608];
            snprintf(obj, sizeof obj, "%s/rt_%s.o", rtdir, srcs.v[i]);
            if (push(&objs, obj)) goto done;
            continue;
        }
        if (job_start(a, c, t, 1) || push_words(a, "-O3 -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Wall") ||
            push_words(a, v ? v->flags : t->baseline) || pushf(a, "-I%s%s", inc, NULL) || push_words(a, extra))
            goto done;
        char obj[4608];
        if (is_rt) {
            snprintf(path, sizeof path, "%s/%s", inc, srcs.v[i]);
            snprintf(obj, sizeof obj, "%s/rt_%s.o", rtdir, srcs.v[i]);
            what[n_jobs] = strdup(srcs.v[i]);
            if (push(a, "-c") || push_path(a, path)) goto done;
        } else if (is_disp) {
            snprintf(path, sizeof path, "%s/dispatch.c", dir);
            snprintf(obj, sizeof obj, "%s/dispatch.o", dir);
            what[n_jobs] = strdup("the start-up dispatcher");
            if (push(a, "-c") || push_path(a, path)) goto done;
        } else {
            int k = i - srcs.n - 1;
            char def[64];
            snprintf(def, sizeof def, "-DARCHC_VARIANT=archc_model_isa%d", k);
            snprintf(obj, sizeof obj, "%s/model_isa%d.o", dir, k);
            snprintf(path, sizeof path, "compiling the model for %s", v->name);
            what[n_jobs] = strdup(path);
            if (push(a, def) || push(a, "-c") || push_path(a, c_path)) goto done;
        }
        if (!what[n_jobs] || push(a, "-o") || push(a, obj) || push(&objs, obj)) goto done;
        n_jobs++;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (run_jobs(c, jobs, what, n_jobs, ncpu > 0 ? (int)ncpu : 1) != 0) goto done;
    if (fill) {   /* complete: publish the entry (another build may have won the race: keep ours here) */
        if (rename(rtdir, cache) == 0) {
            for (int i = 0; i < objs.n; i++)
                if (!strncmp(objs.v[i], rtdir, strlen(rtdir)) && objs.v[i][strlen(rtdir)] == '/') {
                    char obj[4608];
                    snprintf(obj, sizeof obj, "%s%s", cache, objs.v[i] + strlen(rtdir));
                    free(objs.v[i]);
                    if (!(objs.v[i] = strdup(obj))) goto done;
                }
            fill = 0;
        }
    }

    /* link: static, no shared libraries needed on the device */
    if (job_start(&link, c, t, 0) || push(&link, "-static")) goto done;
    for (int i = 0; i < objs.n; i++)
        if (push(&link, objs.v[i])) goto done;
    if (push_words(&link, "-lm -lpthread") || push(&link, "-o") || push_path(&link, exe_path)) goto done;
    pid_t pid = start_job(c, &link);
    if (pid < 0 || wait_job(c, pid, "linking") != 0) goto done;
    rc = 0;
done:
    for (int i = 0; i < cap && jobs; i++) argv_free(&jobs[i]);
    for (int i = 0; i < cap && what; i++) free(what[i]);
    free(jobs);
    free(what);
    argv_free(&srcs);
    argv_free(&objs);
    argv_free(&link);
    if (fill) remove_dir(rtdir);   /* not published: a failed build, or another build published first */
    remove_dir(dir);
    return rc;
}

static int build_native(const Compiler *c, const char *c_path, const char *exe_path, const char *inc) {
    const char *lib = env_or("ARCHC_RUNTIME_LIB", ARCHC_RUNTIME_LIB);
    Argv a = {0};
    int rc = -1;
    /* A sanitizer build of archc (ARCHC_SANITIZE) builds models sanitized, at -O1:
     * the level ASan recommends, and gcc -O3 with ASan took 92 s on the gemma3
     * fixture's 60 KB of C on a Zen 3 core (-O1: 18 s), which made the sanitized
     * test pass the longest part of CI. */
    const char *opt = strstr(ARCHC_EXTRA_CFLAGS, "-fsanitize") ? "-O1" : "-O3";
    if (job_start(&a, c, NULL, 1) || push(&a, opt) || push_words(&a, "-march=native -std=c11 -D_DEFAULT_SOURCE -Wall") ||
        push_words(&a, ARCHC_EXTRA_CFLAGS) || push_words(&a, env_or("ARCHC_CFLAGS", "")) || pushf(&a, "-I%s%s", inc, NULL) ||
        push_path(&a, c_path) || push(&a, lib) || push_words(&a, "-lm -lpthread") || push(&a, "-o") || push_path(&a, exe_path))
        goto done;
    char what[4200];
    snprintf(what, sizeof what, "building %s", exe_path);
    pid_t pid = start_job(c, &a);
    if (pid >= 0 && wait_job(c, pid, what) == 0) rc = 0;
done:
    argv_free(&a);
    return rc;
}

/* ── CUDA ──────────────────────────────────────────────────────────────────
 * --target=cuda: nvcc ($NVCC, else nvcc on PATH, else /usr/local/cuda/bin/nvcc)
 *     -O3 -std=c++17 -gencode … -I<runtime> FILE.cu <libarchc_rt.a> -lm -lpthread
 *   for the GPU architectures of $ARCHC_CUDA_ARCH (default "80,90": Ampere and
 *   Hopper code, plus Hopper PTX that later GPUs compile at load time).
 * --target=cuda-emu: the same .cu compiled as C++ for the CPU emulator
 *   (runtime/cuda/cuda_emu.h) with $ARCHC_CXX (default c++): every kernel runs
 *   on the CPU, one emulated thread at a time.  For tests and for reading or
 *   debugging kernels on a machine without a GPU; slow. */
int build_is_cuda(const char *target) { return target && (!strcmp(target, "cuda") || !strcmp(target, "cuda-emu")); }

/* nvcc's path into buf, or -1 with a message. */
static int find_nvcc(char *buf, size_t cap) {
    const char *env = getenv("NVCC");
    if (env && *env) { snprintf(buf, cap, "%s", env); return 0; }
    const char *path = getenv("PATH");
    if (path) {
        char *copy = strdup(path);
        for (char *d = copy ? strtok(copy, ":") : NULL; d; d = strtok(NULL, ":")) {
            snprintf(buf, cap, "%s/nvcc", *d ? d : ".");
            if (access(buf, X_OK) == 0) { free(copy); return 0; }
        }
        free(copy);
    }
    snprintf(buf, cap, "/usr/local/cuda/bin/nvcc");
    if (access(buf, X_OK) == 0) return 0;
    fprintf(stderr, "archc: error: --target=cuda needs nvcc (the CUDA toolkit): set NVCC, put nvcc on PATH or install it in /usr/local/cuda\n");
    return -1;
}

static int build_cuda(const char *cu_path, const char *exe_path, const char *inc, int emu, bool l2_loads) {
    const char *lib = env_or("ARCHC_RUNTIME_LIB", ARCHC_RUNTIME_LIB);
    Compiler c = {0};
    Argv a = {0};
    int rc = -1;
    char nvcc[4096];
    if (emu) {
        if (push_words(&c.words, env_or("ARCHC_CXX", "c++")) || c.words.n == 0) goto done;
        for (int i = 0; i < c.words.n; i++) if (push(&a, c.words.v[i])) goto done;
        if (push_words(&a, "-O1 -std=c++17 -Wall -Wno-unused-function -Wno-unknown-pragmas -DARCHC_CUDA_EMU") || push_words(&a, ARCHC_EXTRA_CFLAGS) ||
            push_words(&a, env_or("ARCHC_CFLAGS", "")) || pushf(&a, "-I%s%s", inc, NULL) || push_words(&a, "-x c++") ||
            push_path(&a, cu_path) || push_words(&a, "-x none"))
            goto done;
    } else {
        if (find_nvcc(nvcc, sizeof nvcc) || push(&c.words, nvcc) || push(&a, nvcc) || push_words(&a, "-O3 -std=c++17")) goto done;
        char *archs = strdup(env_or("ARCHC_CUDA_ARCH", "80,90")), *last = NULL;
        if (!archs) goto done;
        for (char *w = strtok(archs, ", "); w; w = strtok(NULL, ", ")) {
            const char *sm = !strncmp(w, "sm_", 3) ? w + 3 : w;
            char g[96];
            snprintf(g, sizeof g, "-gencode=arch=compute_%.16s,code=sm_%.16s", sm, sm);
            if (push(&a, g)) { free(archs); goto done; }
            last = w;
        }
        if (last) {   /* PTX of the newest, for GPUs newer than every listed one */
            char g[96];
            const char *sm = !strncmp(last, "sm_", 3) ? last + 3 : last;
            snprintf(g, sizeof g, "-gencode=arch=compute_%.16s,code=compute_%.16s", sm, sm);
            if (push(&a, g)) { free(archs); goto done; }
        }
        free(archs);
        /* a sanitizer build of archc has a sanitized runtime: the host compiler needs the same flags */
        Argv extra = {0};
        if (push_words(&extra, ARCHC_EXTRA_CFLAGS)) goto done;
        for (int i = 0; i < extra.n; i++) {   /* nvcc splits -Xcompiler values at commas: one sanitizer each */
            const char *eq = strchr(extra.v[i], '=');
            int err = 0;
            if (eq && strchr(eq, ',')) {
                char *list = strdup(eq + 1), pre[64];
                snprintf(pre, sizeof pre, "-Xcompiler=%.*s=", (int)(eq - extra.v[i]) < 40 ? (int)(eq - extra.v[i]) : 40, extra.v[i]);
                for (char *w = list ? strtok(list, ",") : NULL; w && !err; w = strtok(NULL, ",")) err = pushf(&a, "%s%s", pre, w);
                err |= !list;
                free(list);
            } else {
                err = pushf(&a, "-Xcompiler=%s%s", extra.v[i], NULL);
            }
            if (err) { argv_free(&extra); goto done; }
        }
        argv_free(&extra);
        /* the persistent decode reads activations other SMs wrote during the same launch: not from L1 */
        if (l2_loads && push_words(&a, "-Xptxas -dlcm=cg")) goto done;
        if (push_words(&a, env_or("ARCHC_NVCC_FLAGS", "")) || pushf(&a, "-I%s%s", inc, NULL) || push_path(&a, cu_path)) goto done;
    }
    if (push(&a, lib) || push_words(&a, "-lm -lpthread") || push(&a, "-o") || push_path(&a, exe_path)) goto done;
    char what[4200];
    snprintf(what, sizeof what, "building %s", exe_path);
    pid_t pid = start_job(&c, &a);
    if (pid >= 0 && wait_job(&c, pid, what) == 0) rc = 0;
done:
    argv_free(&a);
    argv_free(&c.words);
    return rc;
}

int build_executable(const char *c_path, const char *exe_path, const BuildOptions *o) {
    static const BuildOptions none = {0};
    if (!o) o = &none;
    const char *inc = env_or("ARCHC_RUNTIME_INCLUDE", ARCHC_RUNTIME_INCLUDE);
    if (build_is_cuda(o->target)) {
        int rc = build_cuda(c_path, exe_path, inc, !strcmp(o->target, "cuda-emu"), o->l2_loads);
        if (rc == 0 && o->embed_dir) rc = embed_weights(exe_path, o->embed_dir);
        return rc;
    }
    const Target *t = NULL;
    if (o->target && !(t = find_target(o->target))) return build_check_target(o->target), -1;
    Compiler c;
    int rc = choose_compiler(o, &c, t && !host_is(t->arch) ? t->foreign_gcc : NULL);
    if (rc == 0) rc = t ? build_for_target(&c, t, c_path, exe_path, inc) : build_native(&c, c_path, exe_path, inc);
    argv_free(&c.words);
    if (rc == 0 && o->embed_dir) rc = embed_weights(exe_path, o->embed_dir);
    return rc;
}

int build_run(const char *c_path, const char *exe_path, const BuildOptions *o, int argc, char **argv) {
    fflush(NULL);
    if (!external_cc(o) && llvm_available()) {   /* in memory: ORC JIT, main() called in this process */
        const char *inc = env_or("ARCHC_RUNTIME_INCLUDE", ARCHC_RUNTIME_INCLUDE);
        const char *lib = env_or("ARCHC_RUNTIME_LIB", ARCHC_RUNTIME_LIB);
        Argv f = {0};
        int rc = -1;
        if (!(push_words(&f, "-O3 -march=native -std=c11 -D_DEFAULT_SOURCE") || push_words(&f, clang_unroll_flags) ||
              push_words(&f, env_or("ARCHC_CFLAGS", "")) || pushf(&f, "-I%s%s", inc, NULL))) {
            const char *srcs[] = {c_path};
            rc = llvm_jit_run(1, srcs, f.n, (const char *const *)f.v, lib, argc, argv);
        }
        argv_free(&f);
        return rc < 0 ? 1 : rc;
    }
    /* a temporary executable, started with argv (argv[0] replaced by its path) */
    if (build_executable(c_path, exe_path, o) != 0) return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { fprintf(stderr, "archc run: error: cannot start %s: %s\n", exe_path, strerror(errno)); return 1; }
    if (pid == 0) {
        argv[0] = (char *)exe_path;
        execv(exe_path, argv);
        fprintf(stderr, "archc run: error: cannot run %s: %s\n", exe_path, strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
