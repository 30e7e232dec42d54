/*
 * runtime/main.c — rt_main: the command line of every generated binary.
 *
 *   ./model --weights PATH [--prompt TEXT | --tokens 1,2,3] [-n N]
 *           [--temp X --top-p X --seed S] [--threads N] [--precision f32|bf16] [--mmap]
 *           [--logits FILE] [--decode-logits FILE] [--print-ids] [--bench [--warmup]]
 *
 * Flow: parse arguments → open the checkpoint and bind every weight the model
 * declares (first mismatch reported by tensor name) → tokenizer (for --prompt
 * and for printing text) → model init → prefill → decode loop with the
 * sampler.  Any error is one line on stderr and a non-zero exit.
 *
 * Stopping: with --prompt, generation stops at the model's EOS token; with
 * --tokens it runs exactly -n steps (deterministic for tests and benchmarks).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include "archc_rt.h"
#include "chat.h"
#include "fileio.h"
#include "sampler.h"
#include "tokenizer.h"

typedef struct Args {
    const char *weights, *prompt, *tokens, *logits_path, *decode_logits_path;
    int n, threads, print_ids, bench, warmup, mtp;
    int chat, slide, n_given, nvars;           /* --chat (runtime/chat.c) */
    const char *system, *chat_template;
    const char **vars;
    float temp, top_p;
    unsigned long long seed;
} Args;

static void usage(FILE *f, const RtModel *m) {
    fprintf(f,
            "%s — compiled by archc from %s\n"
            "usage: %s --weights PATH [--prompt TEXT | --tokens 1,2,3] [options]\n"
            "  --weights PATH   checkpoint: a directory (config.json + *.safetensors) or one .safetensors file\n"
            "                   (not needed by a binary built with archc --embed-weights)\n"
            "  --prompt TEXT    text, tokenized with tokenizer.json next to the weights\n"
            "  --tokens IDS     comma-separated token ids instead of a prompt\n"
            "  -n N             tokens to generate (default 16; 0 = prefill only)\n"
            "  --temp X         sampling temperature (default 0 = greedy)\n"
            "  --top-p X        nucleus sampling threshold (default 1 = off)\n"
            "  --seed S         random seed for sampling (default 0)\n"
            "  --threads N      worker threads (default: all CPUs)\n"
            "  --mmap           map the checkpoint instead of reading it into memory on huge pages (the default\n"
            "                   when it fits in half of RAM: faster decode; --mmap shares the page cache)\n"
            "  --precision P    f32 (default: exact) or bf16: bf16 weights multiply bf16-rounded activations\n"
            "                   with the CPU's bf16 dot products (AVX512_BF16), as transformers does in bf16\n"
            "  --logits FILE    write float32 logits of every prompt position, [T][%d]\n"
            "  --decode-logits FILE  write the float32 logits each generated token was drawn from, [n][vocab]\n"
            "  --print-ids      print the generated ids as one comma-separated line\n"
            "  --bench          print a line with prefill and decode tokens/s\n"
            "  --warmup         before the timed prefill and decode, run each once untimed (as llama-bench does):\n"
            "                   first-touch page faults of activations and scratch are not counted\n"
            "  --mtp            greedy self-speculative decoding with the model's multi-token-prediction\n"
            "                   module (DeepSeek-V3, GLM-4.5): same tokens, fewer main-model steps\n"
            "  --chat           interactive chat in the checkpoint's chat template (turns from stdin, line by line;\n"
            "                   /reset, /exit); -n caps each reply; --system TEXT, --chat-var NAME=VALUE,\n"
            "                   --chat-template FILE, --slide (drop the oldest turns when the context is full)\n"
            "With --prompt generation stops at the end-of-sequence token; with --tokens it runs exactly -n steps.\n"
            "Chat template (no weights are loaded): %s --weights DIR --render-chat FILE.json [--add-generation-prompt]\n"
            "  [--chat-var NAME=VALUE]... [--chat-template FILE] prints the conversation rendered with the checkpoint's template\n",
            m->name, m->source, "model", m->vocab, "model");
}

/* Numeric flags: the whole value must be the number (no leading blanks, no
 * trailing junk), inside the flag's range (overflow included); the message
 * names the flag and the accepted range. */
static int parse_int(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || v < lo || v > hi) {
        fprintf(stderr, "error: %s: expected an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *flag, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v) || !(s[0] == '-' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')) || v < lo || v > hi) {
        fprintf(stderr, "error: %s: expected a number in [%g, %g], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = (float)v;
    return 0;
}

static int parse_args(int argc, char **argv, const RtModel *m, Args *a) {
    memset(a, 0, sizeof *a);
    a->n = 16;
    a->top_p = 1.0f;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) { usage(stdout, m); exit(0); }
        if (!strcmp(f, "--print-ids")) { a->print_ids = 1; continue; }
        if (!strcmp(f, "--bench")) { a->bench = 1; continue; }
        if (!strcmp(f, "--warmup")) { a->warmup = 1; continue; }
        if (!strcmp(f, "--mtp")) { a->mtp = 1; continue; }
        if (!strcmp(f, "--mmap")) { st_load_mode = ST_LOAD_MMAP; continue; }
        if (!strcmp(f, "--chat")) { a->chat = 1; continue; }
        if (!strcmp(f, "--slide")) { a->slide = 1; continue; }
        static const char *with_value[] = {"--weights", "--prompt", "--tokens", "-n", "--temp", "--top-p", "--seed", "--threads", "--logits", "--decode-logits",
                                           "--system", "--chat-var", "--chat-template", "--precision"};
        int known = 0;
        for (unsigned k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(f, with_value[k]);
        if (!known) { fprintf(stderr, "error: unknown option '%s' (see --help)\n", f); return -1; }
        if (i + 1 >= argc) { fprintf(stderr, "error: %s needs a value\n", f); return -1; }
        const char *v = argv[++i];
        long l;
        if (!strcmp(f, "--weights")) a->weights = v;
        else if (!strcmp(f, "--prompt")) a->prompt = v;
        else if (!strcmp(f, "--tokens")) a->tokens = v;
        else if (!strcmp(f, "--logits")) a->logits_path = v;
        else if (!strcmp(f, "--decode-logits")) a->decode_logits_path = v;
        else if (!strcmp(f, "-n")) { if (parse_int(f, v, 0, INT_MAX, &l)) return -1; a->n = (int)l; a->n_given = 1; }
        else if (!strcmp(f, "--precision")) {
            if (!strcmp(v, "f32")) rt_precision = RT_PRECISION_F32;
            else if (!strcmp(v, "bf16")) rt_precision = RT_PRECISION_BF16;
            else { fprintf(stderr, "error: --precision: expected f32 or bf16, got '%s'\n", v); return -1; }
        }
        else if (!strcmp(f, "--system")) a->system = v;
        else if (!strcmp(f, "--chat-template")) a->chat_template = v;
        else if (!strcmp(f, "--chat-var")) {
            if (!a->vars && !(a->vars = calloc((size_t)argc, sizeof *a->vars))) { fprintf(stderr, "error: out of memory\n"); return -1; }
            a->vars[a->nvars++] = v;
        }
        else if (!strcmp(f, "--threads")) {
            if (parse_int(f, v, 1, 1024, &l)) return -1;
            /* more threads than CPUs only adds contention (the pool spins) */
            int cpus = rt_cpu_count();
            if (l > cpus) fprintf(stderr, "note: --threads %ld: using %d, the number of CPUs available\n", l, cpus);
            a->threads = (int)(l > cpus ? cpus : l);
        } else if (!strcmp(f, "--seed")) {
            char *end;
            errno = 0;
            a->seed = strtoull(v, &end, 10);
            if (errno || *end || end == v || v[0] < '0' || v[0] > '9') {
                fprintf(stderr, "error: --seed: expected an integer in [0, %llu], got '%s'\n", (unsigned long long)ULLONG_MAX, v);
                return -1;
            }
        } else if (!strcmp(f, "--temp")) { if (parse_float(f, v, 0.0f, 100.0f, &a->temp)) return -1; }
        else if (!strcmp(f, "--top-p")) { if (parse_float(f, v, 0.0f, 1.0f, &a->top_p)) return -1; }
    }
    if (!a->weights && rt_embedded_present()) a->weights = RT_EMBEDDED_DIR;   /* archc --embed-weights */
    if (!a->weights) { fprintf(stderr, "error: --weights PATH is required (see --help)\n"); return -1; }
    if ((a->system || a->chat_template || a->vars || a->slide) && !a->chat) {
        fprintf(stderr, "error: --system, --chat-var, --chat-template and --slide go with --chat (or --render-chat)\n");
        return -1;
    }
    if (a->chat && (a->prompt || a->tokens || a->logits_path || a->decode_logits_path || a->mtp || a->bench)) {
        fprintf(stderr, "error: --chat takes its turns from stdin: drop --prompt, --tokens, --logits, --decode-logits, --mtp and --bench\n");
        return -1;
    }
    if (!a->prompt && !a->tokens && !a->chat) { fprintf(stderr, "error: give --prompt TEXT or --tokens IDS (or --chat)\n"); return -1; }
    if (a->prompt && a->tokens) { fprintf(stderr, "error: give either --prompt or --tokens, not both\n"); return -1; }
    if (a->mtp && !m->mtp) {
        fprintf(stderr, "error: --mtp: %s has no multi-token-prediction module (its YAML has no `mtp:`)\n", m->name);
        return -1;
    }
    if (a->mtp && a->temp > 0) { fprintf(stderr, "error: --mtp drafts for greedy decoding only; drop --temp\n"); return -1; }
    if (a->logits_path && a->decode_logits_path &&
        (!strcmp(a->logits_path, a->decode_logits_path) || rt_same_file(a->logits_path, a->decode_logits_path))) {
        fprintf(stderr, "error: --logits and --decode-logits name the same file %s\n", a->logits_path);
        return -1;
    }
    return 0;
}

static int parse_token_list(const char *s, int vocab, int **out) {
    int cap = 64, n = 0;
    int *ids = malloc(sizeof(int) * (size_t)cap);
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0) {
            fprintf(stderr, "error: --tokens: expected comma-separated non-negative integers, bad entry at '%s'\n", p);
            free(ids);
            return -1;
        }
        if (v >= vocab) {
            fprintf(stderr, "error: --tokens: token id %ld is out of range (vocab size %d)\n", v, vocab);
            free(ids);
            return -1;
        }
        if (n == cap) ids = realloc(ids, sizeof(int) * (size_t)(cap *= 2));
        ids[n++] = (int)v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') {
            p++;
            if (!*p) { fprintf(stderr, "error: --tokens: expected a token id after the last ','\n"); free(ids); return -1; }
        } else if (*p) {
            fprintf(stderr, "error: --tokens: expected ',' at '%s'\n", p);
            free(ids);
            return -1;
        }
    }
    *out = ids;
    return n;
}

/* tokenizer.json next to the weights: in the directory, or beside the file. */
/* tokenizer.json next to the weights, else Qwen-1's qwen.tiktoken, else Kimi K2's tiktoken.model. */
static void tokenizer_path(const char *weights, char *buf, size_t cap) {
    char dir[4000];
    if (rt_is_dir(weights)) snprintf(dir, sizeof dir, "%s", weights);
    else {
        const char *slash = strrchr(weights, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - weights) : 1, slash ? weights : ".");
    }
    snprintf(buf, cap, "%s/tokenizer.json", dir);
    if (rt_path_exists(buf)) return;
    char alt[4096];
    snprintf(alt, sizeof alt, "%s/qwen.tiktoken", dir);
    if (rt_path_exists(alt)) { snprintf(buf, cap, "%s", alt); return; }
    snprintf(alt, sizeof alt, "%s/tiktoken.model", dir);
    if (rt_path_exists(alt)) snprintf(buf, cap, "%s", alt);
}

/* Outputs (--logits, --decode-logits) go to a temporary file in the output's
 * directory, created before any work is done (so an unwritable path fails at
 * once) and renamed into place only when the whole run succeeded: a failed run
 * leaves nothing.  A path that is one of the run's inputs (the binary, a
 * weight file, the index, the tokenizer) is refused. */
static int open_output(RtOut *o, const char *flag, const char *path, const StCheckpoint *ck, const char *weights, const char *tpath) {
    int n = 0, nf = st_file_count(ck);
    const char **inputs = malloc(sizeof(char *) * (size_t)(nf + 4));
    if (!inputs) { fprintf(stderr, "error: out of memory\n"); return -1; }
    inputs[n++] = "/proc/self/exe";
    inputs[n++] = weights;
    inputs[n++] = tpath;
    for (int i = 0; i < nf; i++) inputs[n++] = st_file_path(ck, i);
    char err[1200];
    int rc = rt_out_open(o, path, inputs, n, err, sizeof err);
    free(inputs);
    if (rc != 0) { fprintf(stderr, "error: %s %s\n", flag, err); return -1; }
    return 0;
}

/* Interrupted (Ctrl-C, kill): remove the temporary outputs, then die of the signal. */
static char *volatile g_tmp_out[2];
static void on_fatal_signal(int sig) {
    for (int i = 0; i < 2; i++) if (g_tmp_out[i]) unlink(g_tmp_out[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void guard_outputs(RtOut *a, RtOut *b) {
    g_tmp_out[0] = a->tmp;
    g_tmp_out[1] = b->tmp;
    if (a->tmp || b->tmp) {
        signal(SIGINT, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
        signal(SIGHUP, on_fatal_signal);
    }
}

static int write_logits(const char *flag, RtOut *o, const float *logits, size_t count) {
    char err[1200];
    if (rt_out_write(o, logits, sizeof(float) * count, err, sizeof err) != 0) { fprintf(stderr, "error: %s %s\n", flag, err); return -1; }
    return 0;
}

static void print_piece(const Tokenizer *tok, int id) {
    char buf[512];
    buf[0] = 0;
    size_t n = tok_decode_piece(tok, id, buf, sizeof buf);
    fwrite(buf, 1, n, stdout);
    fflush(stdout);
}

/*
 * Greedy self-speculative decoding with the multi-token-prediction module.
 * The MTP module at position i reads the main model's final hidden state h_i
 * and the token t_{i+1} and drafts t_{i+2}.  Each step feeds the main model
 * [t_next, draft] at positions cur, cur+1 in one call: its first logits give
 * the true next token a; if a equals the draft, the second logits give the
 * token after it too (two tokens for one main-model step), else the draft's
 * cache row is simply overwritten by the next step.  Every emitted token is the
 * main model's own argmax, so the output is the same as without --mtp.
 * On entry `work` holds the last prompt position's logits and `hidden` the
 * prompt's final hidden states [T][hidden].
 */
static void generate_mtp(const RtModel *m, const Args *a, Sampler *s, const Tokenizer *tok, const int *prompt, int T, float *work,
                        const float *hidden, int *out, int *n_out, float *dec_logits, int *drafted, int *accepted) {
    size_t V = (size_t)m->vocab, H = (size_t)m->hidden;
    float *lg2 = rt_alloc(sizeof(float) * V * 2), *h2 = rt_alloc(sizeof(float) * H * 2), *dl = rt_alloc(sizeof(float) * V);
    int *next_toks = malloc(sizeof(int) * (size_t)T);
    int done = 0;
    /* the first token, from the prompt */
    if (dec_logits) memcpy(dec_logits, work, sizeof(float) * V);
    int t_next = sampler_sample(s, work);
    out[(*n_out)++] = t_next;
    if (tok) print_piece(tok, t_next);
    if (a->prompt && m->eos_token >= 0 && t_next == m->eos_token) done = 1;
    /* MTP over the prompt: position i gets (h_i, t_{i+1}) */
    for (int i = 0; i + 1 < T; i++) next_toks[i] = prompt[i + 1];
    next_toks[T - 1] = t_next;
    m->mtp(hidden, next_toks, T, 0, dl);
    int draft = sampler_argmax(dl, (int)V), cur = T;
    while (!done && *n_out < a->n) {
        int in[2] = {t_next, draft}, k = *n_out + 1 < a->n ? 2 : 1;  /* the last token needs no draft */
        m->forward(in, k, cur, lg2, 1, h2);
        if (dec_logits) memcpy(dec_logits + V * (size_t)*n_out, lg2, sizeof(float) * V);
        int t1 = sampler_sample(s, lg2);
        out[(*n_out)++] = t1;
        if (tok) print_piece(tok, t1);
        if (a->prompt && m->eos_token >= 0 && t1 == m->eos_token) break;
        *drafted += k == 2;
        if (k == 2 && t1 == draft) {
            (*accepted)++;
            if (dec_logits) memcpy(dec_logits + V * (size_t)*n_out, lg2 + V, sizeof(float) * V);
            int t2 = sampler_sample(s, lg2 + V);
            out[(*n_out)++] = t2;
            if (tok) print_piece(tok, t2);
            if (a->prompt && m->eos_token >= 0 && t2 == m->eos_token) break;
            int nt[2] = {t1, t2};
            if (*n_out < a->n) m->mtp(h2, nt, 2, cur, dl);
            t_next = t2;
            cur += 2;
        } else {
            if (*n_out < a->n) m->mtp(h2, &t1, 1, cur, dl);
            t_next = t1;
            cur += 1;
        }
        draft = sampler_argmax(dl, (int)V);
    }
    rt_free(lg2);
    rt_free(h2);
    rt_free(dl);
    free(next_toks);
}

int rt_main(int argc, char **argv, const RtModel *m) {
    if (chat_requested(argc, argv)) return chat_cli(argc, argv);   /* runtime/chat.c: no weights needed */
    Args a;
    if (parse_args(argc, argv, m, &a) != 0) return 2;
    char err[1024];
    if (m->probe && m->probe(err, sizeof err) != 0) { fprintf(stderr, "error: %s\n", err); return 1; }
    StCheckpoint *ck = st_open(a.weights, err, sizeof err);
    if (!ck) { fprintf(stderr, "error: %s\n", err); return 1; }
    if (st_bind(ck, m->weights, m->n_weights, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        st_close(ck);
        return 1;
    }

    /* the tokenizer: required for --prompt, optional (text output) for --tokens */
    Tokenizer *tok = NULL;
    int *prompt = NULL, T = 0, rc = 0;
    float *logits = NULL, *work = NULL, *hidden = NULL;
    int *out = NULL;
    Sampler s = {0};
    RtOut logits_out = {0}, dec_out = {0};
    logits_out.fd = dec_out.fd = -1;
    char tpath[4096];
    tokenizer_path(a.weights, tpath, sizeof tpath);
    if (a.logits_path && open_output(&logits_out, "--logits", a.logits_path, ck, a.weights, tpath) != 0) { rc = 1; goto done; }
    if (a.decode_logits_path && open_output(&dec_out, "--decode-logits", a.decode_logits_path, ck, a.weights, tpath) != 0) { rc = 1; goto done; }
    guard_outputs(&logits_out, &dec_out);
    if (a.prompt || a.chat || access(tpath, R_OK) == 0) {
        tok = tok_load(tpath, err, sizeof err);
        if (!tok && (a.prompt || a.chat)) {
            fprintf(stderr, "error: %s needs a tokenizer: %s\n", a.chat ? "--chat" : "--prompt", err);
            rc = 1;
            goto done;
        }
    }
    if (a.chat) {   /* runtime/chat.c: the session keeps the KV cache across turns */
        rt_threads_init(a.threads);
        if (m->init(err, sizeof err) != 0) { fprintf(stderr, "error: %s\n", err); rc = 1; goto done; }
        sampler_init(&s, m->vocab, a.temp, a.top_p, a.seed);
        ChatSessionOptions co = {a.weights, a.system, a.chat_template, a.vars, a.nvars, a.n_given ? a.n : 0, a.slide, a.print_ids};
        rc = chat_session(m, tok, &s, &co);
        m->release();
        goto done;
    }
    if (a.prompt) {
        T = tok_encode(tok, a.prompt, &prompt, err, sizeof err);
        if (T < 0) { fprintf(stderr, "error: tokenizing the prompt: %s\n", err); rc = 1; goto done; }
        for (int i = 0; i < T; i++)
            if (prompt[i] < 0 || prompt[i] >= m->vocab) {
                fprintf(stderr, "error: the tokenizer produced id %d, outside the model's vocabulary (%d)\n", prompt[i], m->vocab);
                rc = 1;
                goto done;
            }
    } else {
        T = parse_token_list(a.tokens, m->vocab, &prompt);
        if (T < 0) { rc = 2; goto done; }
    }
    if (T == 0) { fprintf(stderr, "error: the prompt is empty (no tokens)\n"); rc = 2; goto done; }
    if ((long)T + a.n > m->max_context) {
        fprintf(stderr, "error: prompt (%d tokens) + -n %d exceeds the compiled context of %d tokens\n", T, a.n, m->max_context);
        rc = 2;
        goto done;
    }

    rt_threads_init(a.threads);
    if (m->init(err, sizeof err) != 0) { fprintf(stderr, "error: %s\n", err); rc = 1; goto done; }
    size_t V = (size_t)m->vocab;
    logits = rt_alloc(sizeof(float) * V * (a.logits_path ? (size_t)T : 1));
    hidden = a.mtp ? rt_alloc(sizeof(float) * (size_t)m->hidden * (size_t)(T > 2 ? T : 2)) : NULL;

    if (tok) {
        for (int i = 0; i < T; i++) print_piece(tok, prompt[i]);
    }
    if (a.warmup) {   /* the same prefill, untimed: every later call rewrites the cache rows it wrote */
        m->forward(prompt, T, 0, logits, a.logits_path != NULL, hidden);
        if (a.n > 1) {  /* and one decode step at position T, which the first timed step rewrites */
            float *scratch = rt_alloc(sizeof(float) * V);
            m->forward(&prompt[T - 1], 1, T, scratch, 0, NULL);
            rt_free(scratch);
        }
    }
    double t0 = rt_now();
    m->forward(prompt, T, 0, logits, a.logits_path != NULL, hidden);
    double t_prefill = rt_now() - t0;
    if (a.logits_path && write_logits("--logits", &logits_out, logits, V * (size_t)T) != 0) { rc = 1; goto done; }

    sampler_init(&s, m->vocab, a.temp, a.top_p, a.seed);
    out = malloc(sizeof(int) * (size_t)(a.n + 1));
    const float *last = logits + (a.logits_path ? V * (size_t)(T - 1) : 0);
    work = rt_alloc(sizeof(float) * V);
    memcpy(work, last, sizeof(float) * V);
    int n_out = 0;
    float *dec_logits = a.decode_logits_path && a.n > 0 ? rt_alloc(sizeof(float) * V * (size_t)a.n) : NULL;
    double t1 = rt_now();
    int drafted = 0, accepted = 0;
    if (a.mtp && a.n > 0) {
        generate_mtp(m, &a, &s, tok, prompt, T, work, hidden, out, &n_out, dec_logits, &drafted, &accepted);
    } else {
        /* greedy without --decode-logits on a model that can take the argmax itself
         * (the CUDA backend): only the chosen id comes back from each step */
        int device_greedy = m->forward_greedy && s.temperature <= 0.0f && !dec_logits, greedy_next = -1;
        for (int i = 0; i < a.n; i++) {
            if (dec_logits) memcpy(dec_logits + V * (size_t)i, work, sizeof(float) * V);
            int next = greedy_next >= 0 ? greedy_next : sampler_sample(&s, work);
            out[n_out++] = next;
            if (tok) print_piece(tok, next);
            if (a.prompt && m->eos_token >= 0 && next == m->eos_token) break;
            if (i + 1 == a.n) break;
            if (device_greedy) greedy_next = m->forward_greedy(next, T + i);
            else m->forward(&next, 1, T + i, work, 0, NULL);
        }
    }
    double t_decode = rt_now() - t1;
    if (dec_logits) {
        if (write_logits("--decode-logits", &dec_out, dec_logits, V * (size_t)n_out) != 0) rc = 1;
        rt_free(dec_logits);
    }
    /* decode timing counts the forward passes: n_out - 1 of them */
    int decoded = n_out > 1 ? n_out - 1 : 0;
    if (tok) printf("\n");
    if (a.print_ids) {
        for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
    }
    double pf = T / (t_prefill > 0 ? t_prefill : 1e-9), dc = decoded / (t_decode > 0 ? t_decode : 1e-9);
    if (a.bench) {
        printf("bench prefill_tokens=%d prefill_tok_s=%.2f decode_tokens=%d decode_tok_s=%.2f threads=%d", T, pf, decoded, dc,
               rt_threads());
        /* the instruction set on stderr: the bench line's format is a contract */
        fprintf(stderr, "isa: %s\n", rt_isa_name);
        if (a.mtp) printf(" mtp_drafted=%d mtp_accepted=%d mtp_accept_rate=%.3f", drafted, accepted, drafted ? (double)accepted / drafted : 0.0);
        printf("\n");
    } else if (a.mtp) {
        fprintf(stderr, "mtp: %d drafts, %d accepted (%.1f%%)\n", drafted, accepted, drafted ? 100.0 * accepted / drafted : 0.0);
    }
    if (!a.bench)
        fprintf(stderr, "prefill: %d tokens in %.3f s (%.1f tok/s); decode: %d tokens in %.3f s (%.1f tok/s); %d threads\n", T,
                t_prefill, pf, decoded, t_decode, dc, rt_threads());
    if (fflush(stdout) != 0 || ferror(stdout)) { fprintf(stderr, "error: writing to stdout failed\n"); rc = 1; }
    m->release();
    g_tmp_out[0] = g_tmp_out[1] = NULL;
    if (rc == 0 && a.logits_path && rt_out_commit(&logits_out, err, sizeof err) != 0) { fprintf(stderr, "error: --logits %s\n", err); rc = 1; }
    if (rc == 0 && a.decode_logits_path && rt_out_commit(&dec_out, err, sizeof err) != 0) {
        fprintf(stderr, "error: --decode-logits %s\n", err);
        rc = 1;
    }

done:
    g_tmp_out[0] = g_tmp_out[1] = NULL;
    rt_out_abort(&logits_out);   /* no-ops after a commit */
    rt_out_abort(&dec_out);
    if (s.idx) sampler_free(&s);
    free(out);
    free(prompt);
    rt_free(work);
    rt_free(logits);
    rt_free(hidden);
    rt_threads_shutdown();
    if (tok) tok_free(tok);
    st_close(ck);
    free(a.vars);
    return rc;
}
