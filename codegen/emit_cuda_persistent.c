/*
 * codegen/emit_cuda_persistent.c — the decode-persistent pass's part of a .cu:
 * the decode step as one persistent kernel over an instruction list.
 *
 * While the kernels are printed (codegen/emit_cuda.c), each __global__ kernel
 * is also registered here as an *op*: its parameters and its body (a template
 * call on a CuTile).  Each program kernel keeps the launches its host launcher
 * makes in decode (one; split-key attention two), with their grids and
 * arguments in terms of the launcher's parameters.  From the decode steps this
 * file then prints:
 *
 *   - one __device__ function per op used in decode, reading its operands from
 *     an instruction's slots, and decode_op(), the switch over them;
 *   - decode_persistent_kernel: cu_persistent (runtime/cuda/archc_cuda.cuh)
 *     over the instruction list;
 *   - in model_init, the instruction list itself: one line per instruction
 *     (op, tiles, the earlier instructions it waits for, operands), built on
 *     the host where the device addresses are known, commented with its IR
 *     node — the table a reader studies to see what the SMs do in which order.
 *
 * Dependencies come from the steps' typed operands: an instruction waits for
 * the last writer of everything it reads, and for the last writer and the
 * readers since of everything it writes (activation views by their arena
 * ranges, KV caches, RoPE tables, logits, a launcher's own buffers).  MLA
 * layers register no ops: such models keep the ordinary launches (the pass is
 * noted as not applied).
 */
#include <stdlib.h>
#include <string.h>
#include "emit_cuda.h"

typedef struct CuOpDef {
    char name[192];          /* the __global__ kernel's name                    */
    char kparams[800];       /* its parameters                                 */
    char body[800];          /* its body, with cu_grid_tile() for the block    */
    int used;                /* its id in decode_op + 1, 0 while unused        */
} CuOpDef;
typedef struct Launch { int op; char grid[160]; char args[400]; } Launch;
typedef struct KernelLaunches { char params[800]; Launch l[8]; int n; } KernelLaunches;

static CuOpDef *ops;
static int n_ops, cap_ops;
static KernelLaunches *klaunch;   /* per program kernel                        */
static int n_klaunch;
static int op_rope, op_copy, op_softcap;

static int op_add(const char *name, const char *kparams, const char *body) {
    for (int i = 0; i < n_ops; i++)
        if (!strcmp(ops[i].name, name)) return i;
    if (n_ops == cap_ops) {
        cap_ops = cap_ops ? 2 * cap_ops : 64;
        ops = realloc(ops, sizeof *ops * (size_t)cap_ops);
        if (!ops) { fprintf(stderr, "archc: out of memory\n"); exit(1); }
    }
    CuOpDef *o = &ops[n_ops];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->kparams, sizeof o->kparams, "%s", kparams);
    snprintf(o->body, sizeof o->body, "%s", body);
    return n_ops++;
}

void cuda_ops_reset(int n_kernels) {
    free(ops);
    free(klaunch);
    ops = NULL;
    n_ops = cap_ops = 0;
    n_klaunch = n_kernels;
    klaunch = calloc((size_t)(n_kernels ? n_kernels : 1), sizeof *klaunch);
    if (!klaunch) { fprintf(stderr, "archc: out of memory\n"); exit(1); }
    op_rope = op_add("rope_angles", "const float *inv_freq, int half, float mscale, const int *pos, int T, float *cos_t, float *sin_t",
                     "cu_rope_angles(inv_freq, half, mscale, pos, T, cos_t, sin_t)");
    op_copy = op_add("copy", "float *dst, const float *src, int n", "cu_copy(cu_grid_tile(), dst, src, n)");
    op_softcap = op_add("softcap", "float *logits, int rows, float cap", "cu_softcap<VOCAB>(cu_grid_tile(), logits, rows, cap)");
}

void cuda_op_register(int kernel, const char *launcher_params, const char *name, const char *kparams, const char *body, const char *grid,
                      const char *args) {
    if (kernel < 0 || kernel >= n_klaunch) return;
    KernelLaunches *kl = &klaunch[kernel];
    if (kl->n == 8) return;
    snprintf(kl->params, sizeof kl->params, "%s", launcher_params);
    Launch *l = &kl->l[kl->n++];
    l->op = op_add(name, kparams, body);
    snprintf(l->grid, sizeof l->grid, "%s", grid);
    snprintf(l->args, sizeof l->args, "%s", args);
}

/* ── parameter lists ─────────────────────────────────────────────────────── */

typedef struct Param1 { char type[96]; char name[48]; } Param1;

/* "const float *x, int T" → {type "const float *", name "x"}, …; how many. */
static int split_params(const char *list, Param1 *p, int max) {
    int n = 0;
    const char *s = list;
    while (*s && n < max) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char one[160];
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one - 1 ? len : sizeof one - 1), s);
        char *a = one, *z = one + strlen(one);
        while (*a == ' ' || *a == '\n') a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\n')) *--z = 0;
        char *nm = z;
        while (nm > a && (nm[-1] == '_' || (nm[-1] >= 'a' && nm[-1] <= 'z') || (nm[-1] >= 'A' && nm[-1] <= 'Z') || (nm[-1] >= '0' && nm[-1] <= '9')))
            nm--;
        snprintf(p[n].name, sizeof p[n].name, "%.47s", nm);
        *nm = 0;
        while (nm > a && nm[-1] == ' ') *--nm = 0;
        snprintf(p[n].type, sizeof p[n].type, "%.95s", a);
        if (!*p[n].name) break;
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

/* "x, W, y" → the names */
static int split_args(const char *list, char names[][96], int max) {
    int n = 0;
    const char *s = list;
    while (*s && n < max) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && (*s == ' ' || *s == '\n')) { s++; len--; }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\n')) len--;
        snprintf(names[n++], 96, "%.*s", (int)(len < 95 ? len : 95), s);
        if (!e) break;
        s = e + 1;
    }
    return n;
}

static int is_pointer(const char *type) { return strchr(type, '*') != NULL; }

/* does the word w occur in s (not as part of a longer identifier)? */
static int has_word(const char *s, const char *w) {
    size_t l = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
        char b = p == s ? ' ' : p[-1], a = p[l];
        int idb = b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
        int ida = a == '_' || (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9');
        if (!idb && !ida) return 1;
    }
    return 0;
}

/* ── the instruction list ────────────────────────────────────────────────── */

typedef struct Instr {
    int op, step;
    char grid[160];
    char slot[16][200];      /* operand expressions (host side, in model_init)   */
    int n_slots;
    int *deps; int n_deps, cap_deps;
} Instr;

/* A resource an instruction reads or writes. */
enum { R_ACT, R_KCACHE, R_VCACHE, R_LOGITS, R_HOUT, R_ROPE, R_SCRATCH, R_INTERNAL };
typedef struct Res { int kind; long long a, b; } Res;
typedef struct Track { Res r; int writer; int *readers; int n_readers, cap_readers; } Track;

static int res_overlap(Res x, Res y) {
    if (x.kind != y.kind) return 0;
    if (x.kind == R_ACT) return x.a < y.b && y.a < x.b;
    return x.a == y.a;
}

static void add_int(int **v, int *n, int *cap, int x) {
    for (int i = 0; i < *n; i++) if ((*v)[i] == x) return;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *v = realloc(*v, sizeof **v * (size_t)*cap);
        if (!*v) { fprintf(stderr, "archc: out of memory\n"); exit(1); }
    }
    (*v)[(*n)++] = x;
}

typedef struct Deps { Track *t; int n, cap; } Deps;

static Track *track_of(Deps *d, Res r) {
    for (int i = 0; i < d->n; i++)
        if (d->t[i].r.kind == r.kind && d->t[i].r.a == r.a && d->t[i].r.b == r.b) return &d->t[i];
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 32;
        d->t = realloc(d->t, sizeof *d->t * (size_t)d->cap);
        if (!d->t) { fprintf(stderr, "archc: out of memory\n"); exit(1); }
    }
    Track *t = &d->t[d->n++];
    memset(t, 0, sizeof *t);
    t->r = r;
    t->writer = -1;
    return t;
}

/* Record that instruction i reads (write = 0) or writes r; add its dependencies. */
static void access(Deps *d, Instr *in, int i, Res r, int write) {
    for (int k = 0; k < d->n; k++) {
        Track *t = &d->t[k];
        if (!res_overlap(t->r, r)) continue;
        if (t->writer >= 0 && t->writer != i) add_int(&in->deps, &in->n_deps, &in->cap_deps, t->writer);
        if (write)
            for (int q = 0; q < t->n_readers; q++)
                if (t->readers[q] != i) add_int(&in->deps, &in->n_deps, &in->cap_deps, t->readers[q]);
    }
    if (write) {   /* (overlapping tracks keep their own writer: a reader checks every overlapping track) */
        Track *t = track_of(d, r);
        t->writer = i;
        t->n_readers = 0;
    } else {
        Track *t = track_of(d, r);
        add_int(&t->readers, &t->n_readers, &t->cap_readers, i);
    }
}

/* The resource of an operand, or -1 kind for inputs nothing writes (weights, tokens, position). */
static int arg_res(const Emitter *e, Arg a, Res *r) {
    const Program *p = e->p;
    switch (a.kind) {
    case A_ACT: r->kind = R_ACT; r->a = p->views[a.id].offset; r->b = r->a + (long long)e->g->tmax * p->views[a.id].width; return 1;
    case A_K_CACHE: r->kind = R_KCACHE; r->a = r->b = a.id; return 1;
    case A_V_CACHE: r->kind = R_VCACHE; r->a = r->b = a.id; return 1;
    case A_LOGITS: r->kind = R_LOGITS; r->a = r->b = 0; return 1;
    case A_HIDDEN_OUT: r->kind = R_HOUT; r->a = r->b = 0; return 1;
    case A_ROPE_COS: case A_ROPE_SIN: r->kind = R_ROPE; r->a = r->b = a.id; return 1;
    case A_SCRATCH: r->kind = R_SCRATCH; r->a = r->b = 0; return 1;
    default: return 0;
    }
}

typedef struct List { Instr *v; int n, cap; } List;

static Instr *instr_new(List *L, int op, int step, const char *grid) {
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 128;
        L->v = realloc(L->v, sizeof *L->v * (size_t)L->cap);
        if (!L->v) { fprintf(stderr, "archc: out of memory\n"); exit(1); }
    }
    Instr *in = &L->v[L->n++];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->step = step;
    snprintf(in->grid, sizeof in->grid, "%s", grid);
    ops[op].used = 1;
    return in;
}

static void slot(Instr *in, const char *x) {
    if (in->n_slots < 16) {
        char *d = in->slot[in->n_slots++];
        size_t l = strlen(x);
        if (l >= sizeof in->slot[0]) l = sizeof in->slot[0] - 1;
        memcpy(d, x, l);
        d[l] = 0;
    }
}

/* Every decode step as instructions: false when a step's kernel registered no ops. */
static int build(const Emitter *e, List *L) {
    const Program *p = e->p;
    Deps d = {0};
    for (int si = 0; si < p->n_steps[PH_DECODE]; si++) {
        const Step *s = &p->steps[PH_DECODE][si];
        int first = L->n;
        if (s->kind == S_CALL) {
            const KernelLaunches *kl = s->kernel < n_klaunch ? &klaunch[s->kernel] : NULL;
            if (!kl || !kl->n) { free(d.t); return 0; }
            Param1 lp[STEP_MAX_ARGS];
            int nlp = split_params(kl->params, lp, STEP_MAX_ARGS);
            for (int li = 0; li < kl->n; li++) {
                const Launch *l = &kl->l[li];
                Instr *in = instr_new(L, l->op, si, l->grid);
                char names[16][96];
                int na = split_args(l->args, names, 16);
                for (int q = 0; q < na; q++) {
                    int found = -1;
                    for (int z = 0; z < nlp && z < s->n_args; z++)
                        if (!strcmp(lp[z].name, names[q])) found = z;
                    const char *text = found >= 0 ? cuda_arg_text(e, s->arg[found]) : names[q];
                    slot(in, text);
                }
                int idx = L->n - 1;
                /* the launcher's reads go to its first launch, its writes to its last; between
                 * two launches of one step, the split attention's parts */
                for (int q = 0; q < s->n_args; q++) {
                    Res r;
                    if (!arg_res(e, s->arg[q], &r)) continue;
                    if (!s->arg[q].out && li == 0) access(&d, &L->v[idx], idx, r, 0);
                    if (s->arg[q].out && li == kl->n - 1) access(&d, &L->v[idx], idx, r, 1);
                }
                /* launches of one step share the launcher's own buffers (the split attention's
                 * parts: one buffer for every attention kernel; a MoE layer's logits, choices,
                 * activations): each waits for the one before, in order */
                if (kl->n > 1) {
                    long long key = p->kernels[s->kernel].kind == KK_ATTENTION ? -1 : s->kernel;
                    access(&d, &L->v[idx], idx, (Res){R_INTERNAL, key, key}, 1);
                }
            }
        } else if (s->kind == S_ROPE_ANGLES) {
            const RopeTable *t = &e->g->rope[s->id];
            Instr *in = instr_new(L, op_rope, si, "dim3(1)");
            char b[160];
            snprintf(b, sizeof b, "d_rope_inv_freq_%s", t->name); slot(in, b);
            snprintf(b, sizeof b, "%d", t->dims / 2); slot(in, b);
            snprintf(b, sizeof b, "rope_mscale_%s", t->name); slot(in, b);
            slot(in, "d_pos");
            slot(in, "1");
            snprintf(b, sizeof b, "rope_cos_%s", t->name); slot(in, b);
            snprintf(b, sizeof b, "rope_sin_%s", t->name); slot(in, b);
            access(&d, in, L->n - 1, (Res){R_ROPE, s->id, s->id}, 1);
        } else if (s->kind == S_COPY) {
            char grid[160], n[64];
            snprintf(n, sizeof n, "%s * %d", cuda_arg_text(e, s->arg[2]), s->width);
            snprintf(grid, sizeof grid, "dim3(cu_blocks((size_t)%s))", n);
            Instr *in = instr_new(L, op_copy, si, grid);
            slot(in, cuda_arg_text(e, s->arg[0]));
            slot(in, cuda_arg_text(e, s->arg[1]));
            slot(in, n);
            Res r;
            if (arg_res(e, s->arg[1], &r)) access(&d, in, L->n - 1, r, 0);
            if (arg_res(e, s->arg[0], &r)) access(&d, in, L->n - 1, r, 1);
        } else if (s->kind == S_SOFTCAP) {
            Instr *in = instr_new(L, op_softcap, si, "dim3(cu_blocks((size_t)VOCAB))");
            char cap[48];
            snprintf(cap, sizeof cap, "%s", flit((float)s->value));
            slot(in, "d_logits");
            slot(in, "1");
            slot(in, cap);
            access(&d, in, L->n - 1, (Res){R_LOGITS, 0, 0}, 0);
            access(&d, in, L->n - 1, (Res){R_LOGITS, 0, 0}, 1);
        }
        (void)first;
    }
    for (int i = 0; i < d.n; i++) free(d.t[i].readers);
    free(d.t);
    return 1;
}

static List list;       /* the decode instruction list of the file being printed */
static int persistent;  /* printing the persistent decode                         */

int cuda_persistent_enabled(void) { return persistent; }

/* After the kernels: decide, then print the op functions, decode_op and the kernel. */
void cuda_emit_persistent_kernel(Emitter *e) {
    for (int i = 0; i < list.n; i++) free(list.v[i].deps);
    free(list.v);
    memset(&list, 0, sizeof list);
    persistent = 0;
    if (!e->g->decode_persistent) return;
    if (!build(e, &list)) {
        fprintf(stderr, "%s: note: decode-persistent not applied: MLA layers keep their own launches\n",
                e->g->model.file);
        return;
    }
    persistent = 1;
    out(e, "/* ── decode-persistent: the decode step as one kernel ─────────────────────\n"
           " * Each op below is a kernel body above, reading its operands from an\n"
           " * instruction's slots; decode_persistent_kernel runs the instruction list\n"
           " * built in model_init (one line per instruction: op, tiles, what it waits\n"
           " * for) — see runtime/cuda/archc_cuda.cuh, cu_persistent. */\n");
    int id = 0;
    out(e, "enum {");
    for (int i = 0; i < n_ops; i++)
        if (ops[i].used) { ops[i].used = ++id; out(e, "%s OP_%s = %d", id > 1 ? "," : "", ops[i].name, id - 1); }
    out(e, " };\n\n");
    for (int i = 0; i < n_ops; i++) {
        if (!ops[i].used) continue;
        Param1 kp[16];
        int nk = split_params(ops[i].kparams, kp, 16);
        out(e, "static __device__ __forceinline__ void op_%s(const CuTile &tile, const CuSlot *s) {\n", ops[i].name);
        if (!strstr(ops[i].body, "cu_grid_tile()")) out(e, "    (void)tile;\n");
        for (int q = 0; q < nk; q++) {
            if (is_pointer(kp[q].type)) out(e, "    %s%s%s = (%s)s[%d].p;\n", kp[q].type, kp[q].type[strlen(kp[q].type) - 1] == '*' ? "" : " ",
                                            kp[q].name, kp[q].type, q);
            else if (!strcmp(kp[q].type, "float")) out(e, "    float %s = (float)s[%d].f;\n", kp[q].name, q);
            else out(e, "    %s %s = (%s)s[%d].i;\n", kp[q].type, kp[q].name, kp[q].type, q);
            if (!has_word(ops[i].body, kp[q].name)) out(e, "    (void)%s;\n", kp[q].name);
        }
        char body[800];
        snprintf(body, sizeof body, "%s", ops[i].body);
        for (char *c = strstr(body, "cu_grid_tile()"); c; c = strstr(c, "cu_grid_tile()")) {
            memmove(c + 4, c + 14, strlen(c + 14) + 1);
            memcpy(c, "tile", 4);
        }
        out(e, "    %s;\n}\n", body);
    }
    out(e, "static __device__ void decode_op(int op, const CuTile &tile, const CuSlot *s) {\n    switch (op) {\n");
    for (int i = 0; i < n_ops; i++)
        if (ops[i].used) out(e, "    case OP_%s: op_%s(tile, s); break;\n", ops[i].name, ops[i].name);
    out(e, "    }\n}\n");
    out(e, "__global__ void __launch_bounds__(CU_PERSISTENT_THREADS) decode_persistent_kernel(const CuInstr *prog, int n, const int *deps,\n"
           "        unsigned *done) {\n    cu_persistent<decode_op>(prog, n, deps, done);\n}\n\n");
}

void cuda_emit_persistent_state(Emitter *e) {
    if (!persistent) return;
    out(e, "enum { N_DECODE_INSTR = %d };   /* decode-persistent: the instruction list's length */\n", list.n);
    out(e, "static CuInstr *d_decode_prog;   /* the instruction list, on the device */\n");
    out(e, "static int *d_decode_deps;       /* what each instruction waits for */\n");
    out(e, "static unsigned *d_decode_done;  /* per instruction: tiles completed in this step */\n");
    out(e, "static int decode_blocks;        /* the persistent kernel's grid: every block resident */\n\n");
}

/* In model_init, after every buffer exists: the instruction list. */
void cuda_emit_persistent_init(Emitter *e) {
    if (!persistent) return;
    const Program *p = e->p;
    out(e, "    {   /* decode-persistent: the instruction list — op, tiles, the instructions it waits for, operands */\n");
    out(e, "        const int T = 1;\n        (void)T;\n");
    for (int i = 0; i < p->n_decl[PH_DECODE]; i++) {
        const View *v = &p->views[p->decl[PH_DECODE][i]];
        out(e, "        float *const %s = arena + %lld;\n", v->name, (long long)v->offset);
    }
    out(e, "        static CuInstr prog[N_DECODE_INSTR];\n");
    out(e, "        static const int deps[] = {");
    int nd = 0;
    for (int i = 0; i < list.n; i++)
        for (int q = 0; q < list.v[i].n_deps; q++, nd++) out(e, "%s%s%d", nd ? "," : "", nd % 24 == 0 ? "\n            " : " ", list.v[i].deps[q]);
    if (!nd) out(e, "0");
    out(e, "\n        };\n");
    int d0 = 0, last_node = -2;
    for (int i = 0; i < list.n; i++) {
        const Instr *in = &list.v[i];
        const Step *s = &p->steps[PH_DECODE][in->step];
        if (s->node != last_node && s->node >= 0) {
            const Node *n = &e->g->nodes[s->node];
            out(e, "        /* %%%d %s · %s%s */\n", n->out >= 0 ? n->out : s->node, op_info[n->op].name, cmt(n->note),
                n->layer >= 0 ? "" : " (output)");
            last_node = s->node;
        }
        Param1 kp[16];
        int nk = split_params(ops[in->op].kparams, kp, 16);
        out(e, "        cu_instr(&prog[%d], OP_%s, %s, %d, %d, {", i, ops[in->op].name, in->grid, d0, in->n_deps);
        for (int q = 0; q < in->n_slots && q < nk; q++)
            out(e, "%s%s(%s)", q ? ", " : "", is_pointer(kp[q].type) ? "cu_p" : !strcmp(kp[q].type, "float") ? "cu_f" : "cu_i", in->slot[q]);
        out(e, "});");
        if (in->n_deps) {
            out(e, "  /* waits for");
            for (int q = 0; q < in->n_deps; q++) out(e, " %d", in->deps[q]);
            out(e, " */");
        }
        out(e, "\n");
        d0 += in->n_deps;
    }
    out(e, "        d_decode_prog = (CuInstr *)cu_upload(prog, sizeof prog);\n");
    out(e, "        d_decode_deps = (int *)cu_upload(deps, sizeof deps);\n");
    out(e, "        d_decode_done = (unsigned *)cu_malloc(sizeof(unsigned) * N_DECODE_INSTR);\n");
    out(e, "        decode_blocks = cu_persistent_blocks(decode_persistent_kernel);\n    }\n");
}

/* In decode_step, before the graph: the persistent launch (ARCHC_CUDA_PERSISTENT=0 keeps the graph). */
void cuda_emit_persistent_launch(Emitter *e) {
    if (!persistent) return;
    out(e, "    static int use_persistent = -1;\n");
    out(e, "    if (use_persistent < 0) { const char *s = getenv(\"ARCHC_CUDA_PERSISTENT\"); use_persistent = !(s && !strcmp(s, \"0\")); }\n");
    out(e, "    if (use_persistent) {   /* decode-persistent: one kernel runs the whole step */\n");
    out(e, "        CU_CHECK(cudaMemsetAsync(d_decode_done, 0, sizeof(unsigned) * N_DECODE_INSTR, cu_stream));\n");
    out(e, "        cu_launch_persistent(decode_persistent_kernel, decode_blocks, d_decode_prog, N_DECODE_INSTR, d_decode_deps, d_decode_done);\n");
    out(e, "        return;\n    }\n");
}
