/* Identity and attribute files: safetensors written and read through glow's
 * generic safetensors code, checked against the model they are used with. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "xfer/xfer.h"

int xfer_identity_alloc(xfer_identity **out, size_t dim)
{
    *out = NULL;
    if (dim == 0)
        return -EINVAL;
    xfer_identity *id = calloc(1, sizeof(*id));
    if (!id)
        return -ENOMEM;
    id->dim = dim;
    id->mean = calloc(dim, sizeof(float));
    id->var = calloc(dim, sizeof(float));
    if (!id->mean || !id->var) {
        xfer_identity_free(&id);
        return -ENOMEM;
    }
    *out = id;
    return 0;
}

void xfer_identity_free(xfer_identity **id)
{
    if (!id || !*id)
        return;
    free((*id)->mean);
    free((*id)->var);
    free(*id);
    *id = NULL;
}

int xfer_attribute_alloc(xfer_attribute **out, size_t dim)
{
    *out = NULL;
    if (dim == 0)
        return -EINVAL;
    xfer_attribute *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->dim = dim;
    a->vector = calloc(dim, sizeof(float));
    if (!a->vector) {
        free(a);
        return -ENOMEM;
    }
    *out = a;
    return 0;
}

void xfer_attribute_free(xfer_attribute **a)
{
    if (!a || !*a)
        return;
    free((*a)->vector);
    free(*a);
    *a = NULL;
}

static int is_sha256(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return 0;
    return 1;
}

/* Metadata: required string (copied into dst), or -EINVAL with a message. */
static int meta_str(const glow_st *st, const char *path, const char *key, char *dst, size_t size, int required)
{
    const char *v = glow_st_meta(st, key);
    if (!v) {
        if (!required) {
            dst[0] = 0;
            return 0;
        }
        gc_log(GC_LOG_ERROR, "%s: metadata '%s' missing", path, key);
        return -EINVAL;
    }
    if (strlen(v) >= size) {
        gc_log(GC_LOG_ERROR, "%s: metadata '%s' longer than %zu characters", path, key, size - 1);
        return -EINVAL;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int meta_count(const glow_st *st, const char *path, const char *key, int64_t *out)
{
    const char *v = glow_st_meta(st, key);
    char *end;
    if (!v) {
        gc_log(GC_LOG_ERROR, "%s: metadata '%s' missing", path, key);
        return -EINVAL;
    }
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0) {
        gc_log(GC_LOG_ERROR, "%s: metadata '%s' is '%s', expected a count", path, key, v);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

static int check_header(const glow_st *st, const char *path, const char *kind)
{
    const char *fmt = glow_st_meta(st, "glowcam.format");
    const char *k = glow_st_meta(st, "kind");
    if (!fmt || strcmp(fmt, "1")) {
        gc_log(GC_LOG_ERROR, "%s: metadata glowcam.format is %s%s%s, expected \"1\"", path, fmt ? "\"" : "",
               fmt ? fmt : "missing", fmt ? "\"" : "");
        return -EINVAL;
    }
    if (!k || strcmp(k, kind)) {
        gc_log(GC_LOG_ERROR, "%s: metadata kind is %s%s%s, expected \"%s\"", path, k ? "\"" : "", k ? k : "missing",
               k ? "\"" : "", kind);
        return -EINVAL;
    }
    return 0;
}

/* A 1-D float tensor of finite values (non-negative when nonneg); its length in *n. */
static const float *vector_tensor(const glow_st *st, const char *path, const char *name, int nonneg, size_t *n)
{
    int ndim;
    int64_t shape[8];
    const float *t = glow_st_tensor(st, name, &ndim, shape);
    if (!t) {
        gc_log(GC_LOG_ERROR, "%s: tensor '%s' missing", path, name);
        return NULL;
    }
    if (ndim != 1 || shape[0] <= 0) {
        gc_log(GC_LOG_ERROR, "%s: tensor '%s' must be a non-empty vector, has %d dimensions", path, name, ndim);
        return NULL;
    }
    for (int64_t i = 0; i < shape[0]; i++)
        if (!isfinite(t[i]) || (nonneg && t[i] < 0)) {
            gc_log(GC_LOG_ERROR, "%s: tensor '%s' holds %g at index %" PRId64 "%s", path, name, t[i], i,
                   nonneg ? " (must be finite and >= 0)" : " (must be finite)");
            return NULL;
        }
    *n = (size_t)shape[0];
    return t;
}

int xfer_identity_check(const xfer_identity *id, const glow_model *m)
{
    const char *who = id->path[0] ? id->path : id->name;
    if (strcmp(id->model_sha256, glow_model_sha256(m))) {
        gc_log(GC_LOG_ERROR,
               "identity %s was made with another model (sha256 %.16s...) than %s (sha256 %.16s...): "
               "rebuild it with glowcam identity build -m %s",
               who, id->model_sha256[0] ? id->model_sha256 : "none", glow_model_path(m), glow_model_sha256(m),
               glow_model_path(m));
        return -EINVAL;
    }
    if (id->dim != glow_latent_size(m)) {
        gc_log(GC_LOG_ERROR, "identity %s has %zu values, model %s has latents of %zu", who, id->dim,
               glow_model_path(m), glow_latent_size(m));
        return -EINVAL;
    }
    return 0;
}

int xfer_identity_load(xfer_identity **out, const char *path, const glow_model *m)
{
    *out = NULL;
    glow_st *st = NULL;
    xfer_identity *id = NULL;
    size_t n_mean = 0, n_var = 0;
    int r = glow_st_open(&st, path);
    if (r < 0)
        return r;
    r = -EINVAL;
    if (check_header(st, path, "identity") < 0)
        goto fail;
    const float *mean = vector_tensor(st, path, "mean", 0, &n_mean);
    const float *var = vector_tensor(st, path, "var", 1, &n_var);
    if (!mean || !var)
        goto fail;
    if (n_mean != n_var) {
        gc_log(GC_LOG_ERROR, "%s: tensors 'mean' (%zu) and 'var' (%zu) differ in length", path, n_mean, n_var);
        goto fail;
    }
    if ((r = xfer_identity_alloc(&id, n_mean)) < 0)
        goto fail;
    r = -EINVAL;
    if (meta_str(st, path, "name", id->name, sizeof(id->name), 0) < 0 ||
        meta_str(st, path, "model_sha256", id->model_sha256, sizeof(id->model_sha256), 1) < 0 ||
        meta_count(st, path, "count", &id->count) < 0)
        goto fail;
    if (!is_sha256(id->model_sha256)) {
        gc_log(GC_LOG_ERROR, "%s: metadata model_sha256 '%s' is not 64 lowercase hex digits", path, id->model_sha256);
        goto fail;
    }
    if (id->count < 1) {
        gc_log(GC_LOG_ERROR, "%s: metadata count is 0 (an identity averages at least one face)", path);
        goto fail;
    }
    memcpy(id->mean, mean, n_mean * sizeof(float));
    memcpy(id->var, var, n_mean * sizeof(float));
    snprintf(id->path, sizeof(id->path), "%s", path);
    if (m && (r = xfer_identity_check(id, m)) < 0)
        goto fail;
    glow_st_close(&st);
    *out = id;
    return 0;
fail:
    xfer_identity_free(&id);
    glow_st_close(&st);
    return r;
}

int xfer_identity_save(xfer_identity *id, const char *path)
{
    char count[32];
    snprintf(count, sizeof(count), "%" PRId64, id->count);
    const char *const meta[] = {"glowcam.format", "1", "kind", "identity", "name", id->name,
                                "count", count, "model_sha256", id->model_sha256, NULL};
    struct glow_st_entry t[2] = {
        {.name = "mean", .data = id->mean, .ndim = 1, .shape = {(int64_t)id->dim}},
        {.name = "var", .data = id->var, .ndim = 1, .shape = {(int64_t)id->dim}},
    };
    int r = glow_st_write(path, t, 2, meta);
    if (r < 0)
        return r;
    snprintf(id->path, sizeof(id->path), "%s", path);
    return 0;
}

int xfer_attribute_load(xfer_attribute **out, const char *path, const glow_model *m)
{
    *out = NULL;
    glow_st *st = NULL;
    xfer_attribute *a = NULL;
    size_t n = 0;
    int r = glow_st_open(&st, path);
    if (r < 0)
        return r;
    r = -EINVAL;
    if (check_header(st, path, "attribute") < 0)
        goto fail;
    const float *v = vector_tensor(st, path, "vector", 0, &n);
    if (!v)
        goto fail;
    if ((r = xfer_attribute_alloc(&a, n)) < 0)
        goto fail;
    r = -EINVAL;
    if (meta_str(st, path, "name", a->name, sizeof(a->name), 0) < 0 ||
        meta_str(st, path, "model_sha256", a->model_sha256, sizeof(a->model_sha256), 1) < 0 ||
        meta_str(st, path, "source", a->source, sizeof(a->source), 0) < 0)
        goto fail;
    if (glow_st_meta(st, "count_pos") && meta_count(st, path, "count_pos", &a->count_pos) < 0)
        goto fail;
    if (glow_st_meta(st, "count_neg") && meta_count(st, path, "count_neg", &a->count_neg) < 0)
        goto fail;
    if (a->model_sha256[0] && !is_sha256(a->model_sha256)) {
        gc_log(GC_LOG_ERROR, "%s: metadata model_sha256 '%s' is neither \"\" nor 64 lowercase hex digits", path,
               a->model_sha256);
        goto fail;
    }
    memcpy(a->vector, v, n * sizeof(float));
    snprintf(a->path, sizeof(a->path), "%s", path);
    if (m) {
        if (a->model_sha256[0] && strcmp(a->model_sha256, glow_model_sha256(m))) {
            gc_log(GC_LOG_ERROR,
                   "attribute %s was made with another model (sha256 %.16s...) than %s (sha256 %.16s...): "
                   "rebuild it with glowcam attribute build -m %s",
                   path, a->model_sha256, glow_model_path(m), glow_model_sha256(m), glow_model_path(m));
            goto fail;
        }
        if (n != glow_latent_size(m)) {
            gc_log(GC_LOG_ERROR, "attribute %s has %zu values, model %s has latents of %zu", path, n,
                   glow_model_path(m), glow_latent_size(m));
            goto fail;
        }
    }
    glow_st_close(&st);
    *out = a;
    return 0;
fail:
    xfer_attribute_free(&a);
    glow_st_close(&st);
    return r;
}

int xfer_attribute_save(xfer_attribute *a, const char *path)
{
    char cp[32], cn[32];
    snprintf(cp, sizeof(cp), "%" PRId64, a->count_pos);
    snprintf(cn, sizeof(cn), "%" PRId64, a->count_neg);
    const char *const meta[] = {"glowcam.format", "1", "kind", "attribute", "name", a->name, "count_pos", cp,
                                "count_neg", cn, "model_sha256", a->model_sha256, "source", a->source, NULL};
    struct glow_st_entry t = {.name = "vector", .data = a->vector, .ndim = 1, .shape = {(int64_t)a->dim}};
    int r = glow_st_write(path, &t, 1, meta);
    if (r < 0)
        return r;
    snprintf(a->path, sizeof(a->path), "%s", path);
    return 0;
}
