/* Random-weight glowcam models written from C (tests need no Python), with the same
 * recipe as tools/make_random_model.py: orthogonal invconv times a near-identity
 * diagonal, actnorm biases/log-scales ~ 0.1 N(0,1), conv weights ~ N(0,1)/sqrt(fan_in)
 * (halved for conv3 and the priors), positive yscale.
 *
 *   struct glow_random_cfg rc = {.size = 16, .levels = 2, .depth = 2, .width = 16,
 *                                .affine = 1, .edge = 1, .n_bits = 5, .seed = 1};
 *   if (glow_random_model_write("m.safetensors", &rc) < 0) ...;
 *
 * Header-only (static functions) so every test program can include it. */
#ifndef GLOW_RANDOM_MODEL_H
#define GLOW_RANDOM_MODEL_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glow/glow.h"

enum glow_random_which { GLOW_RANDOM_NONE, GLOW_RANDOM_ALL, GLOW_RANDOM_LAST };

struct glow_random_cfg {
    int size, levels, depth, width;
    int affine;     /* 1 affine, 0 additive */
    int edge;       /* edge padding */
    int level_post;
    int n_bits;
    enum glow_random_which ybias, yscale; /* additive only */
    uint64_t seed;
};

struct glow_random_rng {
    uint64_t s;
    int have;
    double spare;
};

static inline double glow_random_uniform(struct glow_random_rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double glow_random_normal(struct glow_random_rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = glow_random_uniform(r), v = glow_random_uniform(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2 * M_PI * v);
    r->have = 1;
    return m * cos(2 * M_PI * v);
}

struct glow_random_list {
    struct glow_st_entry *e;
    float **data;
    char **names;
    int n, cap;
};

static inline float *glow_random_add(struct glow_random_list *l, const char *name, int ndim, const int64_t *shape)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        struct glow_st_entry *e = realloc(l->e, cap * sizeof(*e));
        if (!e)
            return NULL;
        l->e = e;
        float **d = realloc(l->data, cap * sizeof(*d));
        if (!d)
            return NULL;
        l->data = d;
        char **nm = realloc(l->names, cap * sizeof(*nm));
        if (!nm)
            return NULL;
        l->names = nm;
        l->cap = cap;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    float *d = calloc(count, sizeof(float));
    char *nm = strdup(name);
    if (!d || !nm) {
        free(d);
        free(nm);
        return NULL;
    }
    struct glow_st_entry *e = &l->e[l->n];
    memset(e, 0, sizeof(*e));
    e->name = nm;
    e->data = d;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
    l->data[l->n] = d;
    l->names[l->n] = nm;
    l->n++;
    return d;
}

/* kind: 0 small vector (0.1 N), 1 conv (N / sqrt(fan_in) * scale), 2 invconv, 3 yscale */
static inline int glow_random_tensor(struct glow_random_list *l, struct glow_random_rng *r, const char *name,
                                     int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int kind,
                                     double scale)
{
    const int64_t shape[4] = {d0, d1, d2, d3};
    float *d = glow_random_add(l, name, ndim, shape);
    if (!d)
        return -ENOMEM;
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    if (kind == 2) { /* Gram-Schmidt on a Gaussian matrix, rows scaled by exp(0.1 N) */
        const int c = (int)d0;
        double *q = malloc(sizeof(double) * c * c);
        if (!q)
            return -ENOMEM;
        for (int i = 0; i < c * c; i++)
            q[i] = glow_random_normal(r);
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < i; j++) {
                double dot = 0;
                for (int k = 0; k < c; k++)
                    dot += q[i * c + k] * q[j * c + k];
                for (int k = 0; k < c; k++)
                    q[i * c + k] -= dot * q[j * c + k];
            }
            double nrm = 0;
            for (int k = 0; k < c; k++)
                nrm += q[i * c + k] * q[i * c + k];
            nrm = sqrt(nrm);
            for (int k = 0; k < c; k++)
                q[i * c + k] /= nrm;
        }
        for (int j = 0; j < c; j++) { /* W = Q diag(s): column j scaled */
            double s = exp(0.1 * glow_random_normal(r));
            for (int i = 0; i < c; i++)
                d[i * c + j] = (float)(q[i * c + j] * s);
        }
        free(q);
        return 0;
    }
    const double fan_in = kind == 1 ? (double)(d1 * d2 * d3) : 1.0;
    for (size_t i = 0; i < count; i++) {
        double v = glow_random_normal(r);
        d[i] = (float)(kind == 0 ? 0.1 * v : kind == 1 ? v * scale / sqrt(fan_in) : exp(0.1 * v));
    }
    return 0;
}

static inline int glow_random_model_write(const char *path, const struct glow_random_cfg *c)
{
    struct glow_random_list l = {0};
    struct glow_random_rng rng = {.s = c->seed * 0x2545F4914F6CDD1DULL + 1};
    const int e = c->edge ? 1 : 0, W = c->width, K = c->depth, L = c->levels;
    char nm[160];
    int r = 0;
#define T(...)                                                                                      \
    do {                                                                                            \
        if ((r = glow_random_tensor(&l, &rng, nm, __VA_ARGS__)) < 0)                                \
            goto out;                                                                               \
    } while (0)
    for (int lv = 0; lv < L; lv++) {
        const int C = 12 << lv;
        for (int k = 0; k < K; k++) {
#define N(s) snprintf(nm, sizeof(nm), "levels.%d.steps.%d.%s", lv, k, s)
            N("actnorm.bias"); T(1, C, 0, 0, 0, 0, 1.0);
            N("actnorm.logscale"); T(1, C, 0, 0, 0, 0, 1.0);
            N("invconv.weight"); T(2, C, C, 0, 0, 2, 1.0);
            N("coupling.conv1.weight"); T(4, W, C / 2 + e, 3, 3, 1, 1.0);
            N("coupling.conv1.actnorm.bias"); T(1, W, 0, 0, 0, 0, 1.0);
            N("coupling.conv1.actnorm.logscale"); T(1, W, 0, 0, 0, 0, 1.0);
            N("coupling.conv2.weight"); T(4, W, W, 1, 1, 1, 1.0);
            N("coupling.conv2.actnorm.bias"); T(1, W, 0, 0, 0, 0, 1.0);
            N("coupling.conv2.actnorm.logscale"); T(1, W, 0, 0, 0, 0, 1.0);
            const int cout = c->affine ? C : C / 2;
            N("coupling.conv3.weight"); T(4, cout, W + e, 3, 3, 1, 0.5);
            N("coupling.conv3.bias"); T(1, cout, 0, 0, 0, 0, 1.0);
            N("coupling.conv3.logscale"); T(1, cout, 0, 0, 0, 0, 1.0);
            if (c->ybias == GLOW_RANDOM_ALL || (c->ybias == GLOW_RANDOM_LAST && k == K - 1)) {
                N("coupling.ybias");
                T(1, C / 2, 0, 0, 0, 0, 1.0);
            }
            if (c->yscale == GLOW_RANDOM_ALL || (c->yscale == GLOW_RANDOM_LAST && k == K - 1)) {
                N("coupling.yscale");
                T(1, C / 2, 0, 0, 0, 3, 1.0);
            }
#undef N
        }
        if (c->level_post) {
            snprintf(nm, sizeof(nm), "levels.%d.post.actnorm.bias", lv); T(1, C, 0, 0, 0, 0, 1.0);
            snprintf(nm, sizeof(nm), "levels.%d.post.actnorm.logscale", lv); T(1, C, 0, 0, 0, 0, 1.0);
            snprintf(nm, sizeof(nm), "levels.%d.post.invconv.weight", lv); T(2, C, C, 0, 0, 2, 1.0);
        }
        if (lv < L - 1) {
            snprintf(nm, sizeof(nm), "levels.%d.prior.weight", lv); T(4, C, C / 2 + e, 3, 3, 1, 0.5);
            snprintf(nm, sizeof(nm), "levels.%d.prior.bias", lv); T(1, C, 0, 0, 0, 0, 1.0);
            snprintf(nm, sizeof(nm), "levels.%d.prior.logscale", lv); T(1, C, 0, 0, 0, 0, 1.0);
        }
    }
    {
        const int h = c->size >> L, C = 12 << (L - 1);
        snprintf(nm, sizeof(nm), "top.mean"); T(3, h, h, C, 0, 0, 1.0);
        snprintf(nm, sizeof(nm), "top.logscale"); T(3, h, h, C, 0, 0, 1.0);
    }
#undef T
    {
        char s_size[16], s_l[16], s_k[16], s_w[16], s_b[16];
        snprintf(s_size, sizeof(s_size), "%d", c->size);
        snprintf(s_l, sizeof(s_l), "%d", L);
        snprintf(s_k, sizeof(s_k), "%d", K);
        snprintf(s_w, sizeof(s_w), "%d", W);
        snprintf(s_b, sizeof(s_b), "%d", c->n_bits);
        const char *meta[] = {"glowcam.format", "1", "image_size", s_size, "n_levels", s_l, "depth", s_k,
                              "width", s_w, "coupling", c->affine ? "affine" : "additive", "n_bits", s_b,
                              "edge_padding", c->edge ? "true" : "false", "alignment", "openai-eyes",
                              "level_post", c->level_post ? "true" : "false", "name", "random",
                              "description", "random weights for tests", "training", "none", NULL};
        r = glow_st_write(path, l.e, l.n, meta);
    }
out:
    for (int i = 0; i < l.n; i++) {
        free(l.data[i]);
        free(l.names[i]);
    }
    free(l.e);
    free(l.data);
    free(l.names);
    return r;
}

#endif
