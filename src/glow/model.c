/* Model files: load, validate against DESIGN.md, resolve tensors into struct glow_model.
 *
 * Every metadata field is parsed strictly and range-checked, every tensor must exist
 * with dtype F32 and exactly the shape the configuration implies (safetensors.c has
 * already checked that its bytes lie inside the file), unknown tensors are refused,
 * values must be finite, invconv matrices invertible and yscale positive. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glow/priv.h"

#define MAX_IMAGE_SIZE 4096

static int parse_int(const char *path, const glow_st *st, const char *key, int lo, int hi, int *out)
{
    const char *s = glow_st_meta(st, key);
    if (!s) {
        gc_log(GC_LOG_ERROR, "%s: metadata %s missing", path, key);
        return -EINVAL;
    }
    long v = 0;
    int n = 0;
    for (const char *p = s; *p; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 9) {
            gc_log(GC_LOG_ERROR, "%s: metadata %s = \"%.40s\" is not a decimal integer in %d..%d", path, key, s, lo, hi);
            return -EINVAL;
        }
        v = v * 10 + (*p - '0');
    }
    if (n == 0 || v < lo || v > hi) {
        gc_log(GC_LOG_ERROR, "%s: metadata %s = \"%.40s\" is not a decimal integer in %d..%d", path, key, s, lo, hi);
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

/* One of names[] (NULL-terminated); *out is its index. */
static int parse_enum(const char *path, const glow_st *st, const char *key, const char *const *names, int *out)
{
    const char *s = glow_st_meta(st, key);
    if (!s) {
        gc_log(GC_LOG_ERROR, "%s: metadata %s missing", path, key);
        return -EINVAL;
    }
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    gc_log(GC_LOG_ERROR, "%s: metadata %s = \"%.40s\" is not one of %s%s%s%s%s", path, key, s, names[0],
           names[1] ? ", " : "", names[1] ? names[1] : "", names[1] && names[2] ? ", " : "",
           names[1] && names[2] ? names[2] : "");
    return -EINVAL;
}

static void copy_text(const glow_st *st, const char *key, char *dst, size_t n)
{
    const char *s = glow_st_meta(st, key);
    snprintf(dst, n, "%s", s ? s : "");
}

static int parse_config(const char *path, const glow_st *st, struct glow_config *c)
{
    static const char *const fmt_names[] = {"1", NULL};
    static const char *const bools[] = {"false", "true", NULL};
    static const char *const couplings[] = {"affine", "additive", NULL};
    static const char *const aligns[] = {"openai-eyes", "ffhq-quad", NULL};
    int fmt, v;
    if (parse_enum(path, st, "glowcam.format", fmt_names, &fmt) < 0 ||
        parse_int(path, st, "n_levels", 1, GLOW_MAX_LEVELS, &c->n_levels) < 0 ||
        parse_int(path, st, "image_size", 2, MAX_IMAGE_SIZE, &c->image_size) < 0 ||
        parse_int(path, st, "depth", 1, 256, &c->depth) < 0 || parse_int(path, st, "width", 1, 4096, &c->width) < 0 ||
        parse_int(path, st, "n_bits", 1, 8, &c->n_bits) < 0)
        return -EINVAL;
    if (c->image_size % (1 << c->n_levels)) {
        gc_log(GC_LOG_ERROR, "%s: metadata image_size = %d is not divisible by 2^n_levels = %d", path, c->image_size,
               1 << c->n_levels);
        return -EINVAL;
    }
    if (parse_enum(path, st, "coupling", couplings, &v) < 0)
        return -EINVAL;
    c->coupling = v ? GLOW_COUPLING_ADDITIVE : GLOW_COUPLING_AFFINE;
    if (parse_enum(path, st, "edge_padding", bools, &c->edge_padding) < 0 ||
        parse_enum(path, st, "level_post", bools, &c->level_post) < 0 ||
        parse_enum(path, st, "alignment", aligns, &v) < 0)
        return -EINVAL;
    c->alignment = v ? GLOW_ALIGN_FFHQ_QUAD : GLOW_ALIGN_OPENAI_EYES;
    copy_text(st, "name", c->name, sizeof(c->name));
    copy_text(st, "description", c->description, sizeof(c->description));
    copy_text(st, "training", c->training, sizeof(c->training));
    return 0;
}

/* Looks a tensor up and checks its shape; *found counts resolved tensors.
 * optional: a missing tensor is not an error (*out = NULL). */
struct resolver {
    const char *path;
    const glow_st *st;
    int found;
    char *seen; /* per tensor of the file: resolved, to name an unused one */
};

static int get(struct resolver *r, const float **out, int optional, int ndim, int64_t d0, int64_t d1, int64_t d2,
               int64_t d3, const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static int get(struct resolver *r, const float **out, int optional, int ndim, int64_t d0, int64_t d1, int64_t d2,
               int64_t d3, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    int nd;
    int64_t sh[8];
    const int idx = glow_st_index(r->st, name);
    const float *t = glow_st_tensor(r->st, name, &nd, sh);
    *out = t;
    if (!t) {
        if (optional)
            return 0;
        gc_log(GC_LOG_ERROR, "%s: tensor %s missing", r->path, name);
        return -EINVAL;
    }
    const int64_t want[4] = {d0, d1, d2, d3};
    int ok = nd == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = sh[i] == want[i];
    if (!ok) {
        char got[128] = "", exp[96] = "";
        for (int i = 0; i < nd && strlen(got) < 100; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", i ? "," : "", (long long)sh[i]);
        for (int i = 0; i < ndim; i++)
            snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "%s%lld", i ? "," : "", (long long)want[i]);
        gc_log(GC_LOG_ERROR, "%s: tensor %s has shape [%s], expected [%s]", r->path, name, got, exp);
        return -EINVAL;
    }
    r->seen[idx] = 1;
    r->found++;
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)want[i];
    for (size_t i = 0; i < n; i++)
        if (!isfinite(t[i])) {
            gc_log(GC_LOG_ERROR, "%s: tensor %s holds a non-finite value at index %zu", r->path, name, i);
            return -EINVAL;
        }
    return 0;
}

#define GET1(r, out, opt, a, ...) get(r, out, opt, 1, a, 0, 0, 0, __VA_ARGS__)
#define GET2(r, out, opt, a, b, ...) get(r, out, opt, 2, a, b, 0, 0, __VA_ARGS__)
#define GET3(r, out, opt, a, b, c, ...) get(r, out, opt, 3, a, b, c, 0, __VA_ARGS__)
#define GET4(r, out, opt, a, b, c, d, ...) get(r, out, opt, 4, a, b, c, d, __VA_ARGS__)

static int resolve_all(glow_model *m, const char *path, struct resolver *r);

static int resolve(glow_model *m, const char *path)
{
    struct resolver rr = {path, m->st, 0, NULL}, *r = &rr;
    int ret = -ENOMEM;
    r->seen = calloc((size_t)glow_st_count(m->st) + 1, 1);
    if (!r->seen)
        return -ENOMEM;
    ret = resolve_all(m, path, r);
    free(r->seen);
    return ret;
}

static int resolve_all(glow_model *m, const char *path, struct resolver *r)
{
    const struct glow_config *c = &m->cfg;
    const int e = c->edge_padding ? 1 : 0, W = c->width, L = c->n_levels;
    size_t off = 0;
    for (int l = 0; l < L; l++) {
        struct glow_level *lv = &m->levels[l];
        lv->h = lv->w = c->image_size >> (l + 1);
        lv->c = 12 << l;
        const int C = lv->c, C2 = C / 2;
        const int cout = c->coupling == GLOW_COUPLING_AFFINE ? C : C2;
        lv->steps = calloc((size_t)c->depth, sizeof(*lv->steps));
        if (!lv->steps)
            return -ENOMEM;
        for (int k = 0; k < c->depth; k++) {
            struct glow_step *s = &lv->steps[k];
            struct glow_nn *nn = &s->nn;
            nn->cin = C2;
            nn->cin_pad = C2 + e;
            nn->width = W;
            nn->width_pad = W + e;
            nn->cout = cout;
#define P "levels.%d.steps.%d."
            if (GET1(r, &s->an_bias, 0, C, P "actnorm.bias", l, k) < 0 ||
                GET1(r, &s->an_logs, 0, C, P "actnorm.logscale", l, k) < 0 ||
                GET2(r, &s->invconv, 0, C, C, P "invconv.weight", l, k) < 0 ||
                GET4(r, &nn->w1, 0, W, C2 + e, 3, 3, P "coupling.conv1.weight", l, k) < 0 ||
                GET1(r, &nn->an1_bias, 0, W, P "coupling.conv1.actnorm.bias", l, k) < 0 ||
                GET1(r, &nn->an1_logs, 0, W, P "coupling.conv1.actnorm.logscale", l, k) < 0 ||
                GET4(r, &nn->w2, 0, W, W, 1, 1, P "coupling.conv2.weight", l, k) < 0 ||
                GET1(r, &nn->an2_bias, 0, W, P "coupling.conv2.actnorm.bias", l, k) < 0 ||
                GET1(r, &nn->an2_logs, 0, W, P "coupling.conv2.actnorm.logscale", l, k) < 0 ||
                GET4(r, &nn->w3, 0, cout, W + e, 3, 3, P "coupling.conv3.weight", l, k) < 0 ||
                GET1(r, &nn->b3, 0, cout, P "coupling.conv3.bias", l, k) < 0 ||
                GET1(r, &nn->logs3, 0, cout, P "coupling.conv3.logscale", l, k) < 0 ||
                GET1(r, &s->ybias, 1, C2, P "coupling.ybias", l, k) < 0 ||
                GET1(r, &s->yscale, 1, C2, P "coupling.yscale", l, k) < 0)
                return -EINVAL;
            if ((s->ybias || s->yscale) && c->coupling != GLOW_COUPLING_ADDITIVE) {
                gc_log(GC_LOG_ERROR, "%s: tensor levels.%d.steps.%d.coupling.%s: ybias/yscale need additive coupling",
                       path, l, k, s->ybias ? "ybias" : "yscale");
                return -EINVAL;
            }
            for (int i = 0; s->yscale && i < C2; i++)
                if (!(s->yscale[i] > 0)) {
                    gc_log(GC_LOG_ERROR, "%s: tensor levels.%d.steps.%d.coupling.yscale[%d] = %g is not positive", path,
                           l, k, i, s->yscale[i]);
                    return -EINVAL;
                }
            if (!isfinite(glow_log_abs_det(s->invconv, C))) {
                gc_log(GC_LOG_ERROR, "%s: tensor levels.%d.steps.%d.invconv.weight is singular", path, l, k);
                return -EINVAL;
            }
#undef P
        }
        if (c->level_post) {
            if (GET1(r, &lv->post_an_bias, 0, C, "levels.%d.post.actnorm.bias", l) < 0 ||
                GET1(r, &lv->post_an_logs, 0, C, "levels.%d.post.actnorm.logscale", l) < 0 ||
                GET2(r, &lv->post_invconv, 0, C, C, "levels.%d.post.invconv.weight", l) < 0)
                return -EINVAL;
            if (!isfinite(glow_log_abs_det(lv->post_invconv, C))) {
                gc_log(GC_LOG_ERROR, "%s: tensor levels.%d.post.invconv.weight is singular", path, l);
                return -EINVAL;
            }
        }
        lv->prior_cin_pad = C2 + e;
        if (l < L - 1) {
            if (GET4(r, &lv->prior_w, 0, C, C2 + e, 3, 3, "levels.%d.prior.weight", l) < 0 ||
                GET1(r, &lv->prior_b, 0, C, "levels.%d.prior.bias", l) < 0 ||
                GET1(r, &lv->prior_logs, 0, C, "levels.%d.prior.logscale", l) < 0)
                return -EINVAL;
            lv->eps_count = (size_t)lv->h * lv->w * C2;
        } else {
            if (GET3(r, &m->top_mean, 0, lv->h, lv->w, C, "top.mean") < 0 ||
                GET3(r, &m->top_logs, 0, lv->h, lv->w, C, "top.logscale") < 0)
                return -EINVAL;
            lv->eps_count = (size_t)lv->h * lv->w * C;
        }
        lv->eps_offset = off;
        off += lv->eps_count;
    }
    m->latent_size = off;
    GC_ASSERT(off == (size_t)c->image_size * c->image_size * 3); /* the flow keeps the dimension */
    if (r->found != glow_st_count(m->st)) {
        const char *unused = "?";
        for (int i = 0; i < glow_st_count(m->st); i++)
            if (!r->seen[i]) {
                unused = glow_st_name(m->st, i);
                break;
            }
        gc_log(GC_LOG_ERROR, "%s: tensor %s is not part of this configuration (%d unused tensors)", path, unused,
               glow_st_count(m->st) - r->found);
        return -EINVAL;
    }
    return 0;
}

static int load(glow_model **out, glow_st *st, const char *path)
{
    *out = NULL;
    int ret = -ENOMEM;
    glow_model *m = calloc(1, sizeof(*m));
    if (!m) {
        glow_st_close(&st);
        return ret;
    }
    m->st = st;
    m->path = strdup(path);
    if (!m->path)
        goto fail;
    snprintf(m->sha256, sizeof(m->sha256), "%s", glow_st_sha256(st));
    m->file_size = glow_st_file_size(st);
    if ((ret = parse_config(path, st, &m->cfg)) < 0 || (ret = resolve(m, path)) < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    glow_model_free(&m);
    return ret;
}

int glow_model_load(glow_model **out, const char *path)
{
    *out = NULL;
    glow_st *st;
    int r = glow_st_open(&st, path);
    return r < 0 ? r : load(out, st, path);
}

int glow_model_load_memory(glow_model **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    glow_st *st;
    int r = glow_st_open_memory(&st, data, size, name);
    return r < 0 ? r : load(out, st, name ? name : "(memory)");
}

void glow_model_free(glow_model **pm)
{
    if (!pm || !*pm)
        return;
    glow_model *m = *pm;
    for (int l = 0; l < GLOW_MAX_LEVELS; l++)
        free(m->levels[l].steps);
    glow_st_close(&m->st);
    free(m->path);
    free(m);
    *pm = NULL;
}

const struct glow_config *glow_model_config(const glow_model *m) { return &m->cfg; }
const char *glow_model_path(const glow_model *m) { return m->path; }
const char *glow_model_sha256(const glow_model *m) { return m->sha256; }
size_t glow_latent_size(const glow_model *m) { return m->latent_size; }

size_t glow_latent_level_offset(const glow_model *m, int level, size_t *count, int *h, int *w, int *c)
{
    GC_ASSERT(level >= 0 && level < m->cfg.n_levels); /* caller's loop bound */
    const struct glow_level *lv = &m->levels[level];
    if (count)
        *count = lv->eps_count;
    if (h)
        *h = lv->h;
    if (w)
        *w = lv->w;
    if (c)
        *c = level == m->cfg.n_levels - 1 ? lv->c : lv->c / 2;
    return lv->eps_offset;
}

double glow_model_flops(const glow_model *m)
{
    const struct glow_config *c = &m->cfg;
    double macs = 0;
    for (int l = 0; l < c->n_levels; l++) {
        const struct glow_level *lv = &m->levels[l];
        const double hw = (double)lv->h * lv->w, C = lv->c;
        const struct glow_nn *nn = &lv->steps[0].nn;
        double step = hw * C * C                                    /* invconv */
                      + hw * nn->width * nn->cin_pad * 9.0          /* conv1 */
                      + hw * (double)nn->width * nn->width          /* conv2 */
                      + hw * nn->cout * (double)nn->width_pad * 9.0; /* conv3 */
        macs += step * c->depth;
        if (c->level_post)
            macs += hw * C * C;
        if (l < c->n_levels - 1)
            macs += hw * C * lv->prior_cin_pad * 9.0;
    }
    return macs;
}

const char *glow_alignment_name(enum glow_alignment a)
{
    return a == GLOW_ALIGN_FFHQ_QUAD ? "ffhq-quad" : "openai-eyes";
}

const char *glow_coupling_name(enum glow_coupling c)
{
    return c == GLOW_COUPLING_ADDITIVE ? "additive" : "affine";
}
