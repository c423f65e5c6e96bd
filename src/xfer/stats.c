/* Running mean and variance of latents: Welford's update in double precision,
 * so that thousands of video frames add up without cancellation. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "xfer/xfer.h"

struct xfer_stats {
    size_t dim;
    int64_t n;
    double *mean; /* running mean */
    double *m2;   /* sum of squared deviations from the running mean */
};

int xfer_stats_create(xfer_stats **out, size_t dim)
{
    *out = NULL;
    if (dim == 0)
        return -EINVAL;
    xfer_stats *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->dim = dim;
    s->mean = calloc(dim, sizeof(double));
    s->m2 = calloc(dim, sizeof(double));
    if (!s->mean || !s->m2) {
        xfer_stats_free(&s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void xfer_stats_free(xfer_stats **s)
{
    if (!s || !*s)
        return;
    free((*s)->mean);
    free((*s)->m2);
    free(*s);
    *s = NULL;
}

void xfer_stats_reset(xfer_stats *s)
{
    s->n = 0;
    memset(s->mean, 0, s->dim * sizeof(double));
    memset(s->m2, 0, s->dim * sizeof(double));
}

void xfer_stats_add(xfer_stats *s, const float *z)
{
    s->n++;
    const double inv_n = 1.0 / (double)s->n;
    double *mean = s->mean, *m2 = s->m2;
    for (size_t i = 0; i < s->dim; i++) {
        const double x = z[i];
        const double d = x - mean[i];
        mean[i] += d * inv_n;
        m2[i] += d * (x - mean[i]);
    }
}

int64_t xfer_stats_count(const xfer_stats *s)
{
    return s->n;
}

size_t xfer_stats_dim(const xfer_stats *s)
{
    return s->dim;
}

void xfer_stats_mean(const xfer_stats *s, float *mean)
{
    for (size_t i = 0; i < s->dim; i++)
        mean[i] = (float)s->mean[i];
}

void xfer_stats_var(const xfer_stats *s, float *var)
{
    const double inv_n = s->n > 1 ? 1.0 / (double)s->n : 0.0;
    for (size_t i = 0; i < s->dim; i++) {
        const double v = s->m2[i] * inv_n;
        var[i] = (float)(v > 0 ? v : 0); /* m2 may round to -0 */
    }
}

int xfer_stats_to_identity(const xfer_stats *s, const char *name, const char *model_sha256, xfer_identity **out)
{
    *out = NULL;
    if (s->n == 0) {
        gc_log(GC_LOG_ERROR, "identity %s: no faces to average", name ? name : "");
        return -EINVAL;
    }
    xfer_identity *id;
    int r = xfer_identity_alloc(&id, s->dim);
    if (r < 0)
        return r;
    snprintf(id->name, sizeof(id->name), "%s", name ? name : "");
    snprintf(id->model_sha256, sizeof(id->model_sha256), "%s", model_sha256 ? model_sha256 : "");
    id->count = s->n;
    xfer_stats_mean(s, id->mean);
    xfer_stats_var(s, id->var);
    *out = id;
    return 0;
}

/* Stats keep their means in double: the difference is taken before rounding. */
int xfer_attribute_from_stats(const xfer_stats *pos, const xfer_stats *neg, const char *name,
                              const char *model_sha256, xfer_attribute **out)
{
    *out = NULL;
    if (pos->dim != neg->dim || pos->n == 0 || neg->n == 0) {
        gc_log(GC_LOG_ERROR, "attribute %s: needs faces on both sides (%" PRId64 " positive, %" PRId64 " negative)",
               name ? name : "", pos->n, neg->n);
        return -EINVAL;
    }
    xfer_attribute *a;
    int r = xfer_attribute_alloc(&a, pos->dim);
    if (r < 0)
        return r;
    snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
    snprintf(a->model_sha256, sizeof(a->model_sha256), "%s", model_sha256 ? model_sha256 : "");
    a->count_pos = pos->n;
    a->count_neg = neg->n;
    for (size_t i = 0; i < pos->dim; i++)
        a->vector[i] = (float)(pos->mean[i] - neg->mean[i]);
    *out = a;
    return 0;
}
