/*
 * passes/epilogue_fuse.c — fold elementwise work into the matmul that feeds it.
 *
 * Three rewrites, applied in this order:
 *
 *  1. bias:      %y = linear(%x) ; %z = bias(%y)          →  %z = linear(%x) +b
 *  2. residual:  %o = linear(%a) ; %x2 = add(%x, %o)      →  %x2 = linear(%a) +residual(%x)
 *                (the matmul writes x + W·a; with memplan %x2 takes %x's buffer,
 *                 so the residual stream is updated in place)
 *  3. GLU:       %g = linear(%h) ; %u = linear(%h) ; %a = glu(%g, %u)
 *                                                       →  %a = linear_glu(%h)
 *                (gate and up rows are computed together and only act(g)·u is
 *                 stored: the two [T, I] intermediates disappear)
 *
 * A rewrite applies only when the intermediate value has no other reader.
 */
#include "passes.h"

static int uses(const Graph *g, int v, int *only_user) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int k = 0; k < 3; k++)
            if (nd->in[k] == v) { n++; *only_user = i; }
    }
    return n;
}

static int live_producer(const Graph *g, int v, Op op) {
    int p = g->vals[v].producer;
    return (p >= 0 && !g->nodes[p].dead && g->nodes[p].op == op) ? p : -1;
}

int pass_epilogue_fuse(Graph *g) {
    int user;
    /* 1. bias into linear */
    for (int i = 0; i < g->n_nodes; i++) {
        Node *b = &g->nodes[i];
        if (b->dead || b->op != OP_BIAS) continue;
        int p = live_producer(g, b->in[0], OP_LINEAR);
        if (p < 0 || g->nodes[p].w[1] >= 0 || uses(g, b->in[0], &user) != 1) continue;
        g->nodes[p].w[1] = b->w[0];
        g->nodes[p].out = b->out;
        g->vals[b->out].producer = p;
        b->dead = true;
    }
    /* 2. residual add into linear */
    for (int i = 0; i < g->n_nodes; i++) {
        Node *a = &g->nodes[i];
        if (a->dead || a->op != OP_ADD) continue;
        for (int side = 1; side >= 0; side--) {
            int o = a->in[side], x = a->in[1 - side];
            int p = live_producer(g, o, OP_LINEAR);
            if (p < 0 || g->nodes[p].residual || uses(g, o, &user) != 1) continue;
            /* x must be defined before the linear runs */
            int xp = g->vals[x].producer;
            if (xp >= p) continue;
            Node *l = &g->nodes[p];
            l->residual = true;
            l->in[1] = x;
            l->out = a->out;
            g->vals[a->out].producer = p;
            a->dead = true;
            break;
        }
    }
    /* 3. gate/up linears + glu → linear_glu */
    for (int i = 0; i < g->n_nodes; i++) {
        Node *u = &g->nodes[i];
        if (u->dead || u->op != OP_GLU) continue;
        int pg = live_producer(g, u->in[0], OP_LINEAR), pu = live_producer(g, u->in[1], OP_LINEAR);
        if (pg < 0 || pu < 0) continue;
        Node *lg = &g->nodes[pg], *lu = &g->nodes[pu];
        if (lg->in[0] != lu->in[0] || lg->residual || lu->residual) continue;
        if (uses(g, u->in[0], &user) != 1 || uses(g, u->in[1], &user) != 1) continue;
        Node f = *u;
        f.op = OP_LINEAR_GLU;
        f.in[0] = lg->in[0];
        f.in[1] = f.in[2] = -1;
        f.w[0] = lg->w[0];      /* gate weight */
        f.w[1] = lu->w[0];      /* up weight   */
        f.w[2] = lg->w[1];      /* gate bias (or -1) */
        f.w[3] = lu->w[1];      /* up bias (or -1)   */
        f.n_in = lg->n_in;
        f.n_out = lg->n_out;
        snprintf(f.note, sizeof f.note, "gate_proj|up_proj + %.27s", u->note);
        *u = f;                 /* in place of the glu: both inputs are defined by then */
        lg->dead = true;
        lu->dead = true;
    }
    return 0;
}
