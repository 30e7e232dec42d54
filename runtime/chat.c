/*
 * runtime/chat.c — the checkpoint's chat template applied to a conversation.
 *
 * Where the template comes from, as transformers 4.57 loads it: the weights
 * directory's chat_template.jinja if present, else tokenizer_config.json's
 * "chat_template" — a string, or a list of {"name", "template"} of which
 * "tool_use" is taken when tools are given and it exists, else "default".
 *
 * The variables, as apply_chat_template passes them: the special tokens of
 * tokenizer_config.json (bos_token, eos_token, unk_token, sep_token,
 * pad_token, cls_token, mask_token — a string, or the "content" of an
 * AddedToken object — plus additional_special_tokens and the names of
 * extra_special_tokens; empty or null ones are left out, and
 * special_tokens_map.json fills in names tokenizer_config.json lacks), then
 * the --chat-var values (which override them), then messages, tools and
 * documents (None when not given) and add_generation_prompt.
 *
 * strftime_now formats the current local time, or $SOURCE_DATE_EPOCH when set
 * (reproducible renders for tests).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "archc_rt.h"
#include "chat.h"
#include "fileio.h"
#include "sampler.h"
#include "tokenizer.h"
#include "jinja.h"
#include "json.h"

#define CHAT_MAX_FILE ((size_t)64 << 20)

static void weights_dir(const char *weights, char *buf, size_t cap) {
    if (rt_is_dir(weights)) snprintf(buf, cap, "%s", weights);
    else {
        const char *slash = strrchr(weights, '/');
        if (slash) snprintf(buf, cap, "%.*s", (int)(slash - weights), weights);
        else snprintf(buf, cap, ".");
        if (!buf[0]) snprintf(buf, cap, "/");
    }
}

/* a special token's text: a string, or an AddedToken object's "content" */
static const char *token_text(const JsonValue *v) {
    if (!v) return NULL;
    if (v->type == JSON_STRING) return v->string;
    if (v->type == JSON_OBJECT) {
        const JsonValue *c = json_get(v, "content");
        if (c && c->type == JSON_STRING) return c->string;
    }
    return NULL;
}

typedef struct Vars {
    JinjaVar *v;
    int n, cap;
    JsonValue **docs;       /* parsed JSON to free */
    int ndocs, capdocs;
    char **strs;            /* strings to free */
    int nstrs, capstrs;
} Vars;

static int vars_add(Vars *vs, JinjaVar v) {
    for (int i = 0; i < vs->n; i++)
        if (!strcmp(vs->v[i].name, v.name)) { vs->v[i] = v; return 0; }
    if (vs->n == vs->cap) {
        int cap = vs->cap ? vs->cap * 2 : 16;
        JinjaVar *nv = realloc(vs->v, sizeof *nv * (size_t)cap);
        if (!nv) return -1;
        vs->v = nv;
        vs->cap = cap;
    }
    vs->v[vs->n++] = v;
    return 0;
}
static int keep_doc(Vars *vs, JsonValue *d) {
    if (vs->ndocs == vs->capdocs) {
        int cap = vs->capdocs ? vs->capdocs * 2 : 8;
        JsonValue **nd = realloc(vs->docs, sizeof *nd * (size_t)cap);
        if (!nd) return -1;
        vs->docs = nd;
        vs->capdocs = cap;
    }
    vs->docs[vs->ndocs++] = d;
    return 0;
}
static char *keep_str(Vars *vs, char *s) {
    if (!s) return NULL;
    if (vs->nstrs == vs->capstrs) {
        int cap = vs->capstrs ? vs->capstrs * 2 : 16;
        char **ns = realloc(vs->strs, sizeof *ns * (size_t)cap);
        if (!ns) { free(s); return NULL; }
        vs->strs = ns;
        vs->capstrs = cap;
    }
    vs->strs[vs->nstrs++] = s;
    return s;
}
static void vars_free(Vars *vs) {
    for (int i = 0; i < vs->ndocs; i++) json_free(vs->docs[i]);
    for (int i = 0; i < vs->nstrs; i++) free(vs->strs[i]);
    free(vs->docs);
    free(vs->strs);
    free(vs->v);
}

static const char *const SPECIAL[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};

/* special tokens of one config object; names already set are kept unless override */
static int add_special_tokens(Vars *vs, const JsonValue *cfg, int override, char *err, size_t errlen) {
    if (!cfg || cfg->type != JSON_OBJECT) return 0;
    for (unsigned k = 0; k < sizeof SPECIAL / sizeof *SPECIAL; k++) {
        const JsonValue *v = json_get(cfg, SPECIAL[k]);
        if (!v) continue;
        int have = 0;
        for (int i = 0; i < vs->n; i++) have |= !strcmp(vs->v[i].name, SPECIAL[k]);
        if (have && !override) continue;
        const char *t = token_text(v);
        if (t && *t) {
            JinjaVar jv = {SPECIAL[k], NULL, t, NULL, 0};
            if (vars_add(vs, jv)) goto oom;
        }
    }
    /* additional_special_tokens: a list of strings (AddedToken objects become their content) */
    const JsonValue *add = json_get(cfg, "additional_special_tokens");
    if (add && add->type == JSON_ARRAY && add->count > 0) {
        size_t cap = 2;
        for (size_t i = 0; i < add->count; i++) {
            const char *t = token_text(add->items[i]);
            if (!t) { snprintf(err, errlen, "additional_special_tokens[%zu] is neither a string nor a token object", i); return -1; }
            cap += 4 + 2 * strlen(t) + 8;
        }
        /* rebuild it as a JSON array of strings, parsed into a document of its own */
        char *js = malloc(cap), *o = js;
        if (!js) goto oom;
        *o++ = '[';
        for (size_t i = 0; i < add->count; i++) {
            const char *t = token_text(add->items[i]);
            if (i) *o++ = ',';
            *o++ = '"';
            for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
                if (*p == '"' || *p == '\\') { *o++ = '\\'; *o++ = (char)*p; }
                else if (*p < 0x20) o += sprintf(o, "\\u%04x", *p);
                else *o++ = (char)*p;
            }
            *o++ = '"';
        }
        *o++ = ']';
        *o = 0;
        char perr[256];
        JsonValue *doc = json_parse(js, (size_t)(o - js), perr, sizeof perr);
        free(js);
        if (!doc || keep_doc(vs, doc)) { json_free(doc); goto oom; }
        JinjaVar jv = {"additional_special_tokens", doc, NULL, NULL, 0};
        if (vars_add(vs, jv)) goto oom;
    }
    const JsonValue *extra = json_get(cfg, "extra_special_tokens");
    if (extra && extra->type == JSON_OBJECT)
        for (size_t i = 0; i < extra->count; i++) {
            const char *t = token_text(extra->items[i]);
            if (t && *t) {
                JinjaVar jv = {extra->keys[i], NULL, t, NULL, 0};
                if (vars_add(vs, jv)) goto oom;
            }
        }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int chat_render(const ChatRequest *rq, char **out, size_t *out_len, char *err, size_t errlen) {
    char dir[4096], path[4200], e2[1024];
    Vars vs = {0};
    JsonValue *cfg = NULL, *stm = NULL, *msgs = NULL;
    char *tmpl = NULL, *mtext = NULL;
    size_t tlen = 0, mlen = 0;
    int rc = -1;
    weights_dir(rq->weights, dir, sizeof dir);

    /* the conversation */
    if (rq->messages_json) {
        mtext = malloc(rq->messages_len + 1);
        if (!mtext) { snprintf(err, errlen, "out of memory"); goto done; }
        memcpy(mtext, rq->messages_json, rq->messages_len);
        mtext[rq->messages_len] = 0;
        mlen = rq->messages_len;
    } else {
        mtext = rt_read_file(rq->messages_path, CHAT_MAX_FILE, &mlen, e2, sizeof e2);
        if (!mtext) { snprintf(err, errlen, "--render-chat %s", e2); goto done; }
    }
    msgs = json_parse(mtext, mlen, e2, sizeof e2);
    if (!msgs) { snprintf(err, errlen, "%s: %s", rq->messages_json ? "the conversation" : rq->messages_path, e2); goto done; }
    const JsonValue *messages = msgs, *tools = NULL, *documents = NULL;
    if (msgs->type == JSON_OBJECT) {
        messages = json_get(msgs, "messages");
        tools = json_get(msgs, "tools");
        documents = json_get(msgs, "documents");
        if (!messages) { snprintf(err, errlen, "%s: the object has no \"messages\" list", rq->messages_path); goto done; }
        for (size_t i = 0; i < msgs->count; i++)
            if (strcmp(msgs->keys[i], "messages") && strcmp(msgs->keys[i], "tools") && strcmp(msgs->keys[i], "documents")) {
                snprintf(err, errlen, "%s: unknown key \"%s\" (expected messages, tools, documents; use --chat-var for template variables)",
                         rq->messages_path, msgs->keys[i]);
                goto done;
            }
    }
    if (messages->type != JSON_ARRAY) { snprintf(err, errlen, "%s: \"messages\" must be a list of messages", rq->messages_path); goto done; }
    for (size_t i = 0; i < messages->count; i++)
        if (messages->items[i]->type != JSON_OBJECT) {
            snprintf(err, errlen, "%s: message %zu is not an object", rq->messages_path, i);
            goto done;
        }
    if (tools && tools->type != JSON_ARRAY && tools->type != JSON_NULL) { snprintf(err, errlen, "%s: \"tools\" must be a list", rq->messages_path); goto done; }
    if (tools && tools->type == JSON_NULL) tools = NULL;
    if (documents && documents->type != JSON_ARRAY && documents->type != JSON_NULL) {
        snprintf(err, errlen, "%s: \"documents\" must be a list", rq->messages_path);
        goto done;
    }
    if (documents && documents->type == JSON_NULL) documents = NULL;

    /* tokenizer_config.json (optional when the template comes from elsewhere) */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (rt_path_exists(path)) {
        cfg = json_parse_file(path, e2, sizeof e2);
        if (!cfg) { snprintf(err, errlen, "%s", e2); goto done; }
        if (cfg->type != JSON_OBJECT) { snprintf(err, errlen, "%s: expected a JSON object", path); goto done; }
    }
    snprintf(path, sizeof path, "%s/special_tokens_map.json", dir);
    if (rt_path_exists(path)) {
        stm = json_parse_file(path, e2, sizeof e2);
        if (!stm) { snprintf(err, errlen, "%s", e2); goto done; }
    }

    /* the template */
    if (rq->template_path) {
        tmpl = rt_read_file(rq->template_path, CHAT_MAX_FILE, &tlen, e2, sizeof e2);
        if (!tmpl) { snprintf(err, errlen, "--chat-template %s", e2); goto done; }
    } else {
        snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
        if (rt_path_exists(path)) {
            tmpl = rt_read_file(path, CHAT_MAX_FILE, &tlen, e2, sizeof e2);
            if (!tmpl) { snprintf(err, errlen, "%s", e2); goto done; }
        } else {
            const JsonValue *ct = cfg ? json_get(cfg, "chat_template") : NULL;
            const char *src = NULL;
            size_t slen = 0;
            if (ct && ct->type == JSON_STRING) { src = ct->string; slen = ct->len; }
            else if (ct && ct->type == JSON_ARRAY) {
                const JsonValue *dflt = NULL, *tool_use = NULL;
                for (size_t i = 0; i < ct->count; i++) {
                    const JsonValue *e = ct->items[i];
                    const char *nm = json_get_string(e, "name", NULL);
                    const JsonValue *t = json_get(e, "template");
                    if (!nm || !t || t->type != JSON_STRING) {
                        snprintf(err, errlen, "%s/tokenizer_config.json: chat_template[%zu] must be {\"name\": ..., \"template\": ...}", dir, i);
                        goto done;
                    }
                    if (!strcmp(nm, "default")) dflt = t;
                    if (!strcmp(nm, "tool_use")) tool_use = t;
                }
                const JsonValue *pick = tools && tool_use ? tool_use : dflt;
                if (!pick) {
                    snprintf(err, errlen, "%s/tokenizer_config.json: several chat templates and none is named \"default\"", dir);
                    goto done;
                }
                src = pick->string;
                slen = pick->len;
            } else if (ct && ct->type != JSON_NULL) {
                snprintf(err, errlen, "%s/tokenizer_config.json: chat_template must be a string or a list of named templates", dir);
                goto done;
            }
            if (!src) {
                snprintf(err, errlen, "%s has no chat template (neither chat_template.jinja nor a chat_template in tokenizer_config.json)", dir);
                goto done;
            }
            tmpl = malloc(slen + 1);
            if (!tmpl) { snprintf(err, errlen, "out of memory"); goto done; }
            memcpy(tmpl, src, slen);
            tmpl[slen] = 0;
            tlen = slen;
        }
    }

    /* the variables, lowest precedence first */
    if (add_special_tokens(&vs, cfg, 1, err, errlen) || add_special_tokens(&vs, stm, 0, err, errlen)) goto done;
    for (int i = 0; i < rq->nvars; i++) {
        const char *eq = strchr(rq->vars[i], '=');
        if (!eq || eq == rq->vars[i]) { snprintf(err, errlen, "--chat-var: expected NAME=VALUE, got '%s'", rq->vars[i]); goto done; }
        char *name = keep_str(&vs, strndup(rq->vars[i], (size_t)(eq - rq->vars[i])));
        if (!name) { snprintf(err, errlen, "out of memory"); goto done; }
        if (!strcmp(name, "messages") || !strcmp(name, "tools") || !strcmp(name, "documents") || !strcmp(name, "add_generation_prompt")) {
            snprintf(err, errlen, "--chat-var: '%s' is set by --render-chat%s, not by --chat-var", name,
                     strcmp(name, "add_generation_prompt") ? "'s file" : " --add-generation-prompt");
            goto done;
        }
        const char *val = eq + 1;
        char perr[256];
        JsonValue *doc = *val ? json_parse(val, strlen(val), perr, sizeof perr) : NULL;
        JinjaVar jv = {name, NULL, val, NULL, 0};
        if (doc) {
            if (keep_doc(&vs, doc)) { json_free(doc); snprintf(err, errlen, "out of memory"); goto done; }
            jv.json = doc;
            jv.json_text = val;
            jv.json_len = strlen(val);
        }
        if (vars_add(&vs, jv)) { snprintf(err, errlen, "out of memory"); goto done; }
    }
    JinjaVar mv[4] = {{"messages", messages, NULL, mtext, mlen},
                      {"tools", tools, NULL, mtext, mlen},
                      {"documents", documents, NULL, mtext, mlen},
                      {"add_generation_prompt", NULL, NULL, NULL, 0}};
    static const JsonValue jtrue = {.type = JSON_BOOL, .boolean = 1}, jfalse = {.type = JSON_BOOL, .boolean = 0};
    mv[3].json = rq->add_generation_prompt ? &jtrue : &jfalse;
    for (int i = 0; i < 4; i++)
        if (vars_add(&vs, mv[i])) { snprintf(err, errlen, "out of memory"); goto done; }

    long long now = -1;
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        long long t = strtoll(sde, &end, 10);
        if (*end || t < 0) { snprintf(err, errlen, "SOURCE_DATE_EPOCH: expected seconds since the epoch, got '%s'", sde); goto done; }
        now = t;
    }
    char jerr[800];
    if (jinja_render(tmpl, tlen, vs.v, vs.n, now, out, out_len, jerr, sizeof jerr) != 0) {
        snprintf(err, errlen, "chat template%s%s: %s", rq->template_path ? " " : "", rq->template_path ? rq->template_path : "", jerr);
        goto done;
    }
    rc = 0;
done:
    vars_free(&vs);
    json_free(cfg);
    json_free(stm);
    json_free(msgs);
    free(tmpl);
    free(mtext);
    return rc;
}

int chat_requested(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--render-chat")) return 1;
    return 0;
}

int chat_cli(int argc, char **argv) {
    ChatRequest rq = {0};
    const char **vars = calloc((size_t)argc + 1, sizeof *vars);
    if (!vars) { fprintf(stderr, "error: out of memory\n"); return 1; }
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--add-generation-prompt")) { rq.add_generation_prompt = 1; continue; }
        if (strcmp(f, "--weights") && strcmp(f, "--render-chat") && strcmp(f, "--chat-var") && strcmp(f, "--chat-template")) {
            fprintf(stderr, "error: --render-chat takes --weights, --add-generation-prompt, --chat-var and --chat-template, not '%s'\n", f);
            free(vars);
            return 2;
        }
        if (i + 1 >= argc) { fprintf(stderr, "error: %s needs a value\n", f); free(vars); return 2; }
        const char *v = argv[++i];
        if (!strcmp(f, "--weights")) rq.weights = v;
        else if (!strcmp(f, "--render-chat")) rq.messages_path = v;
        else if (!strcmp(f, "--chat-template")) rq.template_path = v;
        else vars[rq.nvars++] = v;
    }
    if (!rq.weights && rt_embedded_present()) rq.weights = RT_EMBEDDED_DIR;
    if (!rq.weights) { fprintf(stderr, "error: --weights PATH is required (the directory with tokenizer_config.json)\n"); free(vars); return 2; }
    rq.vars = vars;
    char *out = NULL, err[2048];
    size_t n = 0;
    int rc = 0;
    if (chat_render(&rq, &out, &n, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        rc = 1;
    } else if (fwrite(out, 1, n, stdout) != n || fflush(stdout) != 0) {
        fprintf(stderr, "error: writing to stdout failed\n");
        rc = 1;
    }
    free(out);
    free(vars);
    return rc;
}

/* ───────────────────────── --chat ───────────────────────── */

typedef struct Buf { char *s; size_t n, cap; } Buf;

static int buf_put(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) return -1;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return 0;
}

/* a JSON string literal of UTF-8 text; invalid UTF-8 becomes U+FFFD (as a
 * tokenizer's decode with errors="replace" gives it) */
static int buf_json_str(Buf *b, const char *s, size_t n) {
    if (buf_put(b, "\"", 1)) return -1;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        char esc[8];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; if (buf_put(b, esc, 2)) return -1; p++; continue; }
        if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); if (buf_put(b, esc, 6)) return -1; p++; continue; }
        if (c < 0x80) { if (buf_put(b, (const char *)p, 1)) return -1; p++; continue; }
        int l = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        int ok = l && e - p >= l;
        for (int i = 1; ok && i < l; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && c == 0xE0 && p[1] < 0xA0) ok = 0;
        if (ok && c == 0xED && p[1] >= 0xA0) ok = 0;
        if (ok && c == 0xF0 && p[1] < 0x90) ok = 0;
        if (ok && c == 0xF4 && p[1] >= 0x90) ok = 0;
        if (ok) { if (buf_put(b, (const char *)p, (size_t)l)) return -1; p += l; }
        else { if (buf_put(b, "\xEF\xBF\xBD", 3)) return -1; p++; }
    }
    return buf_put(b, "\"", 1);
}

typedef struct Turn { char *role, *content; } Turn;

static char *messages_json(const Turn *t, int n, size_t *len) {
    Buf b = {0};
    int bad = buf_put(&b, "[", 1);
    for (int i = 0; i < n && !bad; i++) {
        const char *open = i ? ",{\"role\":" : "{\"role\":";
        bad |= buf_put(&b, open, strlen(open));
        bad |= buf_json_str(&b, t[i].role, strlen(t[i].role));
        bad |= buf_put(&b, ",\"content\":", strlen(",\"content\":"));
        bad |= buf_json_str(&b, t[i].content, strlen(t[i].content));
        bad |= buf_put(&b, "}", 1);
    }
    bad |= buf_put(&b, "]", 1);
    if (bad) { free(b.s); return NULL; }
    *len = b.n;
    return b.s;
}

/* end-of-turn ids: generation_config.json eos_token_id (int or list), the
 * tokenizer config's eos_token, the model's EOS */
static int stop_ids(const RtModel *m, const Tokenizer *tok, const char *dir, int *ids, int cap) {
    int n = 0;
    char path[4200], err[1024];
    if (m->eos_token >= 0 && n < cap) ids[n++] = m->eos_token;
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    if (rt_path_exists(path)) {
        JsonValue *g = json_parse_file(path, err, sizeof err);
        const JsonValue *e = g ? json_get(g, "eos_token_id") : NULL;
        if (e && e->type == JSON_NUMBER && n < cap) ids[n++] = (int)e->number;
        if (e && e->type == JSON_ARRAY)
            for (size_t i = 0; i < e->count && n < cap; i++)
                if (e->items[i]->type == JSON_NUMBER) ids[n++] = (int)e->items[i]->number;
        json_free(g);
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (rt_path_exists(path)) {
        JsonValue *c = json_parse_file(path, err, sizeof err);
        const char *t = c ? token_text(json_get(c, "eos_token")) : NULL;
        int id = t ? tok_token_id(tok, t) : -1;
        if (id >= 0 && n < cap) ids[n++] = id;
        json_free(c);
    }
    return n;
}

/* Ctrl-C on a terminal: stops the reply being generated (a second one, or one at
 * the prompt, ends the session) */
static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static void free_turns(Turn *t, int n) {
    for (int i = 0; i < n; i++) { free(t[i].role); free(t[i].content); }
}

int chat_session(const RtModel *m, const Tokenizer *tok, Sampler *s, const ChatSessionOptions *o) {
    char dir[4096], err[2048];
    weights_dir(o->weights, dir, sizeof dir);
    int stops[64];
    int nstops = stop_ids(m, tok, dir, stops, 64);
    int tty = isatty(0);
    int cap_turns = 16, nturns = 0, rc = 0;
    Turn *turns = calloc((size_t)cap_turns, sizeof *turns);
    int *cached = malloc(sizeof(int) * (size_t)m->max_context), ncached = 0;
    float *logits = rt_alloc(sizeof(float) * (size_t)m->vocab);
    char *line = NULL;
    size_t linecap = 0;
    if (!turns || !cached) { fprintf(stderr, "error: out of memory\n"); free(turns); free(cached); rt_free(logits); return 1; }
    if (o->system) {
        turns[0].role = strdup("system");
        turns[0].content = strdup(o->system);
        nturns = 1;
    }
    int nsys = nturns;
    struct sigaction old_int;
    memset(&old_int, 0, sizeof old_int);
    if (tty) {
        fprintf(stderr, "chat with %s: type a message; /reset starts over, /exit ends (Ctrl-C stops a reply)\n", m->name);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;   /* no SA_RESTART: Ctrl-C at the prompt ends getline */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
    }
    for (;;) {
        if (tty) { fprintf(stderr, "> "); fflush(stderr); }
        g_interrupted = 0;
        ssize_t got = getline(&line, &linecap, stdin);
        if (got < 0 || g_interrupted) { if (tty) fputc('\n', stderr); break; }
        if ((size_t)got > ((size_t)16 << 20)) { fprintf(stderr, "error: a turn of more than 16 MiB\n"); rc = 1; break; }
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (!strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            free_turns(turns + nsys, nturns - nsys);
            nturns = nsys;
            ncached = 0;
            if (tty) fprintf(stderr, "(conversation reset)\n");
            continue;
        }
        if (got == 0 || strlen(line) != (size_t)got) continue;   /* empty lines and NUL bytes are skipped */
        if (nturns + 2 > cap_turns) {
            Turn *nt = realloc(turns, sizeof *turns * (size_t)(cap_turns *= 2));
            if (!nt) { fprintf(stderr, "error: out of memory\n"); rc = 1; break; }
            turns = nt;
        }
        turns[nturns].role = strdup("user");
        turns[nturns].content = strdup(line);
        nturns++;

        /* render and tokenize; slide or refuse when it does not fit */
        int *ids = NULL, n = 0;
        for (;;) {
            size_t jl = 0;
            char *js = messages_json(turns, nturns, &jl), *text = NULL;
            size_t tl = 0;
            ChatRequest rq = {0};
            rq.weights = o->weights;
            rq.template_path = o->template_path;
            rq.messages_json = js;
            rq.messages_len = jl;
            rq.add_generation_prompt = 1;
            rq.vars = o->vars;
            rq.nvars = o->nvars;
            int r = js ? chat_render(&rq, &text, &tl, err, sizeof err) : -1;
            free(js);
            if (r != 0) { fprintf(stderr, "error: %s\n", js ? err : "out of memory"); n = -1; break; }
            n = tok_encode_plain(tok, text, &ids, err, sizeof err);
            free(text);
            if (n < 0) { fprintf(stderr, "error: tokenizing the conversation: %s\n", err); break; }
            int room = o->max_new > 0 ? o->max_new : 1;
            if (n + room <= m->max_context) break;
            if (o->slide && nturns - nsys > 1) {
                /* drop the oldest turn after the system prompt (a user turn and its reply) */
                int drop = nturns - nsys >= 3 ? 2 : 1;
                free_turns(turns + nsys, drop);
                memmove(turns + nsys, turns + nsys + drop, sizeof *turns * (size_t)(nturns - nsys - drop));
                nturns -= drop;
                free(ids);
                ids = NULL;
                continue;
            }
            fprintf(stderr, "error: the conversation (%d tokens%s) no longer fits the context of %d tokens; /reset starts over%s\n", n,
                    o->max_new > 0 ? " + the reply" : "", m->max_context, o->slide ? "" : " (or run with --slide)");
            free(ids);
            ids = NULL;
            n = -1;
            break;
        }
        if (n < 0) {
            /* the turn is taken back */
            nturns--;
            free_turns(turns + nturns, 1);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= m->vocab) {
                fprintf(stderr, "error: the tokenizer produced id %d, outside the model's vocabulary (%d)\n", ids[i], m->vocab);
                free(ids);
                rc = 1;
                goto out;
            }
        if (n == 0) {
            fprintf(stderr, "error: the chat template rendered the conversation as no tokens\n");
            free(ids);
            rc = 1;
            goto out;
        }
        /* prefill only what the cache does not hold (at least one token, for the logits) */
        int common = 0;
        while (common < ncached && common < n && cached[common] == ids[common]) common++;
        if (common == n) common--;
        m->forward(ids + common, n - common, common, logits, 0, NULL);
        memcpy(cached, ids, sizeof(int) * (size_t)n);
        ncached = n;
        if (o->print_ids) fprintf(stderr, "prefill: %d tokens, %d reused from the cache\n", n - common, common);
        free(ids);

        /* the reply */
        int limit = m->max_context - ncached;
        if (o->max_new > 0 && o->max_new < limit) limit = o->max_new;
        int *reply = malloc(sizeof(int) * (size_t)(limit + 1)), nreply = 0;
        if (!reply) { fprintf(stderr, "error: out of memory\n"); rc = 1; break; }
        for (int i = 0; i < limit && !g_interrupted; i++) {
            int next = sampler_sample(s, logits);
            int stop = 0;
            for (int k = 0; k < nstops; k++) stop |= next == stops[k];
            if (stop) break;
            reply[nreply++] = next;
            char piece[512];
            size_t pl = tok_decode_piece(tok, next, piece, sizeof piece);
            fwrite(piece, 1, pl, stdout);
            fflush(stdout);
            if (ncached >= m->max_context) break;
            m->forward(&next, 1, ncached, logits, 0, NULL);
            cached[ncached++] = next;
        }
        if (nreply == limit && tty) fprintf(stderr, "\n(reply cut at %d tokens)", limit);
        if (g_interrupted && tty) fprintf(stderr, "\n(interrupted)");
        g_interrupted = 0;
        fputc('\n', stdout);
        fflush(stdout);
        if (o->print_ids) {
            fprintf(stderr, "ids:");
            for (int i = 0; i < nreply; i++) fprintf(stderr, "%s%d", i ? "," : " ", reply[i]);
            fprintf(stderr, "\n");
        }
        char *text = tok_decode(tok, reply, nreply);
        free(reply);
        turns[nturns].role = strdup("assistant");
        turns[nturns].content = text ? text : strdup("");
        nturns++;
    }
out:
    if (tty) sigaction(SIGINT, &old_int, NULL);
    if (ferror(stdout)) { fprintf(stderr, "error: writing to stdout failed\n"); rc = 1; }
    free(line);
    free_turns(turns, nturns);
    free(turns);
    free(cached);
    rt_free(logits);
    return rc;
}
