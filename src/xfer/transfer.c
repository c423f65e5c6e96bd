/* The transfer formulas (DESIGN.md) and the per-face context that chooses the
 * source mean (file, two-pass, running) and applies per-level weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "xfer/xfer.h"

/* Double arithmetic so that alpha 1 with m_T == m_S gives s back bit for bit
 * (the float result of m + (s - m) computed in double is s) and alpha 0 gives m_T. */
void xfer_linear(const float *s, const float *m_S, const float *m_T, size_t n, double alpha, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)((double)m_T[i] + alpha * ((double)s[i] - (double)m_S[i]));
}

void xfer_variance(const float *s, const float *m_S, const float *v_S, const float *m_T, const float *v_T,
                   size_t n, double alpha, double e, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const double ratio = sqrt((double)v_T[i] + e) / sqrt((double)v_S[i] + e);
        out[i] = (float)((double)m_T[i] + alpha * ((double)s[i] - (double)m_S[i]) * ratio);
    }
}

void xfer_attribute_add(const float *s, const float *v, size_t n, double alpha, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)((double)s[i] + alpha * (double)v[i]);
}

struct xfer_params xfer_params_default(void)
{
    struct xfer_params p = {
        .method = XFER_METHOD_LINEAR,
        .alpha = 0.5,
        .var_eps = 0.01,
        .n_level_weights = 0,
        .source = XFER_SOURCE_RUNNING,
        .warmup_s = 3.0,
        .warmup_min_faces = 5,
    };
    for (int l = 0; l < XFER_MAX_LEVELS; l++)
        p.level_weights[l] = 1.0;
    return p;
}

static const char *const method_names[] = {"linear", "variance", "attribute"};
static const char *const source_names[] = {"running", "file", "two-pass"};

const char *xfer_method_name(enum xfer_method m)
{
    return (unsigned)m < 3 ? method_names[m] : "?";
}

const char *xfer_source_name(enum xfer_source s)
{
    return (unsigned)s < 3 ? source_names[s] : "?";
}

int xfer_method_parse(const char *s, enum xfer_method *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, method_names[i])) {
            *out = (enum xfer_method)i;
            return 0;
        }
    gc_log(GC_LOG_ERROR, "unknown transfer method '%s' (linear, variance or attribute)", s);
    return -EINVAL;
}

int xfer_source_parse(const char *s, enum xfer_source *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, source_names[i])) {
            *out = (enum xfer_source)i;
            return 0;
        }
    gc_log(GC_LOG_ERROR, "unknown source-mean policy '%s' (running, file or two-pass)", s);
    return -EINVAL;
}

int xfer_level_weights_parse(const char *s, struct xfer_params *p)
{
    double w[XFER_MAX_LEVELS];
    int n = 0;
    const char *c = s;
    for (;;) {
        char *end;
        double x = strtod(c, &end);
        if (end == c || !isfinite(x) || x < -4 || x > 4 || n == XFER_MAX_LEVELS) {
            gc_log(GC_LOG_ERROR, "level weights '%s': expected up to %d numbers in -4..4 separated by commas",
                   s, XFER_MAX_LEVELS);
            return -EINVAL;
        }
        w[n++] = x;
        if (*end == 0)
            break;
        if (*end != ',') {
            gc_log(GC_LOG_ERROR, "level weights '%s': unexpected '%c'", s, *end);
            return -EINVAL;
        }
        c = end + 1;
    }
    p->n_level_weights = n;
    for (int l = 0; l < XFER_MAX_LEVELS; l++)
        p->level_weights[l] = l < n ? w[l] : 1.0;
    return 0;
}

struct xfer_ctx {
    const glow_model *model;
    struct xfer_params p;
    size_t dim;
    const xfer_identity *target, *source;
    const xfer_attribute *attr;
    xfer_stats *stats;        /* RUNNING and TWO_PASS */
    float *src_mean, *src_var; /* the source statistics in use (RUNNING, TWO_PASS) */
    int have_source;          /* src_mean holds a mean */
    int n_ranges;             /* one range per level (alpha weight per range) */
    size_t off[XFER_MAX_LEVELS], cnt[XFER_MAX_LEVELS];
    double strength;
};

int xfer_ctx_create(xfer_ctx **out, const glow_model *m, const struct xfer_params *p, const xfer_identity *target,
                    const xfer_identity *source, const xfer_attribute *attr)
{
    *out = NULL;
    const struct glow_config *cfg = glow_model_config(m);
    const size_t dim = glow_latent_size(m);
    if (!isfinite(p->alpha) || !isfinite(p->var_eps) || p->var_eps < 0 || !isfinite(p->warmup_s) ||
        p->warmup_s < 0 || (unsigned)p->method > XFER_METHOD_ATTRIBUTE || (unsigned)p->source > XFER_SOURCE_TWO_PASS) {
        gc_log(GC_LOG_ERROR, "transfer: invalid parameters (alpha %g, var_eps %g, warmup %g s)", p->alpha, p->var_eps,
               p->warmup_s);
        return -EINVAL;
    }
    if (p->n_level_weights != 0 && p->n_level_weights != cfg->n_levels) {
        gc_log(GC_LOG_ERROR, "transfer: %d level weights given, model %s has %d levels", p->n_level_weights,
               glow_model_path(m), cfg->n_levels);
        return -EINVAL;
    }
    if (p->method == XFER_METHOD_ATTRIBUTE) {
        if (!attr) {
            gc_log(GC_LOG_ERROR, "transfer: the attribute method needs an attribute vector");
            return -EINVAL;
        }
        if (attr->dim != dim || (attr->model_sha256[0] && strcmp(attr->model_sha256, glow_model_sha256(m)))) {
            gc_log(GC_LOG_ERROR, "attribute %s (length %zu, model sha256 %.12s) does not fit model %s (length %zu, sha256 %.12s)",
                   attr->path[0] ? attr->path : attr->name, attr->dim,
                   attr->model_sha256[0] ? attr->model_sha256 : "(any)", glow_model_path(m), dim, glow_model_sha256(m));
            return -EINVAL;
        }
    } else {
        if (!target) {
            gc_log(GC_LOG_ERROR, "transfer: no target identity");
            return -EINVAL;
        }
        int r = xfer_identity_check(target, m);
        if (r < 0)
            return r;
        if (p->source == XFER_SOURCE_FILE) {
            if (!source) {
                gc_log(GC_LOG_ERROR, "transfer: source policy 'file' needs a source identity (--source ID)");
                return -EINVAL;
            }
            if ((r = xfer_identity_check(source, m)) < 0)
                return r;
        } else if (source) {
            gc_log(GC_LOG_ERROR, "transfer: a source identity was given with source policy '%s'",
                   xfer_source_name(p->source));
            return -EINVAL;
        }
    }

    xfer_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->model = m;
    x->p = *p;
    x->dim = dim;
    x->target = target;
    x->source = source;
    x->attr = attr;
    x->strength = 1.0;
    size_t total = 0;
    for (int l = 0; l < cfg->n_levels; l++) {
        x->off[l] = glow_latent_level_offset(m, l, &x->cnt[l], NULL, NULL, NULL);
        total += x->cnt[l];
    }
    x->n_ranges = cfg->n_levels;
    GC_ASSERT(total == dim); /* the levels' eps tile the latent (glow.h) */
    if (p->method != XFER_METHOD_ATTRIBUTE && p->source != XFER_SOURCE_FILE) {
        int r = xfer_stats_create(&x->stats, dim);
        x->src_mean = malloc(dim * sizeof(float));
        x->src_var = malloc(dim * sizeof(float));
        if (r < 0 || !x->src_mean || !x->src_var) {
            xfer_ctx_free(&x);
            return -ENOMEM;
        }
    }
    *out = x;
    return 0;
}

void xfer_ctx_free(xfer_ctx **x)
{
    if (!x || !*x)
        return;
    xfer_stats_free(&(*x)->stats);
    free((*x)->src_mean);
    free((*x)->src_var);
    free(*x);
    *x = NULL;
}

int xfer_ctx_observe(xfer_ctx *x, const float *z)
{
    if (x->p.source != XFER_SOURCE_TWO_PASS || x->p.method == XFER_METHOD_ATTRIBUTE || x->have_source) {
        gc_log(GC_LOG_ERROR, "transfer: observe() is for the first pass of source policy two-pass only");
        return -EINVAL;
    }
    xfer_stats_add(x->stats, z);
    return 0;
}

int xfer_ctx_end_pass(xfer_ctx *x)
{
    if (x->p.source != XFER_SOURCE_TWO_PASS || !x->stats || x->have_source) {
        gc_log(GC_LOG_ERROR, "transfer: end_pass() is for source policy two-pass, once");
        return -EINVAL;
    }
    if (xfer_stats_count(x->stats) == 0) {
        gc_log(GC_LOG_ERROR, "transfer: the first pass found no face to average");
        return -EINVAL;
    }
    xfer_stats_mean(x->stats, x->src_mean);
    xfer_stats_var(x->stats, x->src_var);
    x->have_source = 1;
    return 0;
}

void xfer_ctx_set_alpha(xfer_ctx *x, double alpha)
{
    if (isfinite(alpha))
        x->p.alpha = alpha;
}

int xfer_ctx_set_target(xfer_ctx *x, const xfer_identity *target)
{
    if (x->p.method == XFER_METHOD_ATTRIBUTE || !target) {
        gc_log(GC_LOG_ERROR, "transfer: set_target() needs a target identity and a linear or variance transfer");
        return -EINVAL;
    }
    int r = xfer_identity_check(target, x->model);
    if (r < 0)
        return r;
    x->target = target;
    return 0;
}

void xfer_ctx_reset(xfer_ctx *x)
{
    if (x->p.source == XFER_SOURCE_RUNNING && x->stats) {
        xfer_stats_reset(x->stats);
        x->have_source = 0;
    }
}

double xfer_ctx_strength(const xfer_ctx *x)
{
    return x->strength;
}

const float *xfer_ctx_source_mean(const xfer_ctx *x)
{
    if (x->p.source == XFER_SOURCE_FILE && x->source)
        return x->source->mean;
    return x->have_source ? x->src_mean : NULL;
}

int xfer_ctx_apply(xfer_ctx *x, const float *z, float *out, double t)
{
    const struct xfer_params *p = &x->p;
    const float *m_S = NULL, *v_S = NULL;
    double strength = 1.0;
    if (p->method != XFER_METHOD_ATTRIBUTE) {
        switch (p->source) {
        case XFER_SOURCE_FILE:
            m_S = x->source->mean;
            v_S = x->source->var;
            break;
        case XFER_SOURCE_TWO_PASS:
            if (!x->have_source) {
                gc_log(GC_LOG_ERROR, "transfer: two-pass apply() before end_pass()");
                return -EINVAL;
            }
            m_S = x->src_mean;
            v_S = x->src_var;
            break;
        case XFER_SOURCE_RUNNING:
            /* the mean of the faces so far, this one included: the first face maps to the
             * target's mean face and the expression fades in over the warm-up */
            xfer_stats_add(x->stats, z);
            xfer_stats_mean(x->stats, x->src_mean);
            if (p->method == XFER_METHOD_VARIANCE)
                xfer_stats_var(x->stats, x->src_var);
            x->have_source = 1;
            m_S = x->src_mean;
            v_S = x->src_var;
            if (xfer_stats_count(x->stats) < p->warmup_min_faces)
                strength = 0.0;
            else if (p->warmup_s > 0 && t < p->warmup_s)
                strength = t > 0 ? t / p->warmup_s : 0.0;
            break;
        }
    }
    x->strength = strength;
    for (int l = 0; l < x->n_ranges; l++) {
        const size_t o = x->off[l], n = x->cnt[l];
        const double a = p->alpha * strength * (p->n_level_weights ? p->level_weights[l] : 1.0);
        switch (p->method) {
        case XFER_METHOD_LINEAR:
            xfer_linear(z + o, m_S + o, x->target->mean + o, n, a, out + o);
            break;
        case XFER_METHOD_VARIANCE:
            xfer_variance(z + o, m_S + o, v_S + o, x->target->mean + o, x->target->var + o, n, a, p->var_eps, out + o);
            break;
        case XFER_METHOD_ATTRIBUTE:
            xfer_attribute_add(z + o, x->attr->vector + o, n, a, out + o);
            break;
        }
    }
    return 0;
}
