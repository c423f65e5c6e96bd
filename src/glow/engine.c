/* glow_engine: picks a backend and forwards encode/decode to it in batches. */
#include <stdlib.h>
#include <string.h>

#include "glow/priv.h"

struct glow_engine {
    const glow_model *model;
    const struct glow_backend_ops *ops;
    void *state;
    enum glow_backend backend;
    int max_batch;
    int decode_bits;
    char describe[512];
};

struct glow_params glow_params_default(void)
{
    struct glow_params p = {.backend = GLOW_BACKEND_AUTO, .device = -1, .max_batch = 8, .fp16 = 0, .threads = 0};
    return p;
}

const char *glow_backend_name(enum glow_backend b)
{
    switch (b) {
    case GLOW_BACKEND_AUTO: return "auto";
    case GLOW_BACKEND_VULKAN: return "vulkan";
    case GLOW_BACKEND_CPU: return "cpu";
    case GLOW_BACKEND_REFERENCE: return "reference";
    }
    return "?";
}

int glow_backend_parse(const char *s, enum glow_backend *out)
{
    for (int b = GLOW_BACKEND_AUTO; b <= GLOW_BACKEND_REFERENCE; b++)
        if (!strcmp(s, glow_backend_name(b))) {
            *out = b;
            return 0;
        }
    return -EINVAL;
}

static const struct glow_backend_ops *backend_ops(enum glow_backend b)
{
    switch (b) {
    case GLOW_BACKEND_REFERENCE: return &glow_ref_ops;
#ifdef GLOWCAM_HAVE_BLAS
    case GLOW_BACKEND_CPU: return &glow_blas_ops;
#endif
#ifdef GLOWCAM_HAVE_VULKAN
    case GLOW_BACKEND_VULKAN: return &glow_vk_ops;
#endif
    default: return NULL;
    }
}

/* AUTO: Vulkan on a real GPU (lavapipe is for tests, 30-60x slower than OpenBLAS),
 * else OpenBLAS, else the reference. */
static enum glow_backend resolve_auto(const char **why)
{
#ifdef GLOWCAM_HAVE_VULKAN
    if (glow_vk_has_real_gpu() > 0) {
        *why = "a GPU is available through Vulkan";
        return GLOW_BACKEND_VULKAN;
    }
#endif
#ifdef GLOWCAM_HAVE_BLAS
    *why = "no GPU found through Vulkan (a CPU Vulkan device such as lavapipe is only used when asked for)";
    return GLOW_BACKEND_CPU;
#else
    *why = "built without OpenBLAS and no GPU found";
    return GLOW_BACKEND_REFERENCE;
#endif
}

int glow_engine_create(glow_engine **out, const glow_model *m, const struct glow_params *params)
{
    *out = NULL;
    struct glow_params p = params ? *params : glow_params_default();
    if (p.max_batch < 1 || p.max_batch > 1024) {
        gc_log(GC_LOG_ERROR, "max_batch %d out of range 1..1024", p.max_batch);
        return -EINVAL;
    }
    if (p.decode_bits < 0 || p.decode_bits > 8) {
        gc_log(GC_LOG_ERROR, "decode_bits %d out of range 0..8", p.decode_bits);
        return -EINVAL;
    }
    const char *why = "asked for";
    enum glow_backend b = p.backend;
    if (b == GLOW_BACKEND_AUTO)
        b = resolve_auto(&why);
    const struct glow_backend_ops *ops = backend_ops(b);
    if (!ops) {
        gc_log(GC_LOG_ERROR, "the %s backend is not part of this build", glow_backend_name(b));
        return -ENOSYS;
    }
    if (p.decode_bits == m->cfg.n_bits)
        p.decode_bits = 0;
    glow_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->decode_bits = p.decode_bits ? p.decode_bits : m->cfg.n_bits;
    e->model = m;
    e->ops = ops;
    e->backend = b;
    e->max_batch = p.max_batch;
    char dev[384] = "";
    int r = ops->create(&e->state, m, &p, dev, sizeof(dev));
    if (r < 0) {
        free(e);
        return r;
    }
    int k = snprintf(e->describe, sizeof(e->describe), "%s backend (%s)%s%s", ops->name, why, dev[0] ? ": " : "", dev);
    if (p.decode_bits && k > 0 && (size_t)k < sizeof(e->describe))
        snprintf(e->describe + k, sizeof(e->describe) - k, ", decodes to %d bits", p.decode_bits);
    *out = e;
    return 0;
}

void glow_engine_free(glow_engine **e)
{
    if (!e || !*e)
        return;
    (*e)->ops->destroy((*e)->state);
    free(*e);
    *e = NULL;
}

enum glow_backend glow_engine_backend(const glow_engine *e) { return e->backend; }
const char *glow_engine_describe(const glow_engine *e) { return e->describe; }
int glow_engine_decode_bits(const glow_engine *e) { return e->decode_bits; }

int glow_encode(glow_engine *e, const uint8_t *images, int n, float *latents, double *bpd)
{
    const size_t isz = (size_t)e->model->cfg.image_size * e->model->cfg.image_size * 3;
    const size_t lsz = e->model->latent_size;
    for (int i = 0; i < n; i += e->max_batch) {
        int nb = n - i < e->max_batch ? n - i : e->max_batch;
        int r = e->ops->encode(e->state, images + i * isz, nb, latents + i * lsz, bpd ? bpd + i : NULL);
        if (r < 0)
            return r;
    }
    return 0;
}

int glow_decode(glow_engine *e, const float *latents, int n, uint8_t *images)
{
    const size_t isz = (size_t)e->model->cfg.image_size * e->model->cfg.image_size * 3;
    const size_t lsz = e->model->latent_size;
    for (int i = 0; i < n; i += e->max_batch) {
        int nb = n - i < e->max_batch ? n - i : e->max_batch;
        int r = e->ops->decode(e->state, latents + i * lsz, nb, images + i * isz);
        if (r < 0)
            return r;
    }
    return 0;
}

#ifndef GLOWCAM_HAVE_VULKAN
int glow_devices_print(FILE *f)
{
    const char *why;
    enum glow_backend b = resolve_auto(&why);
    fprintf(f, "this build has no Vulkan backend\nbackend auto -> %s (%s)\n", glow_backend_name(b), why);
    return 0;
}
#endif
