/* The Vulkan backend: weights uploaded once, activations in a preallocated arena,
 * a whole batch encoded or decoded in one recorded command buffer (recorded once per
 * batch size and direction, then replayed).
 *
 * Each step's actnorm is folded into its invconv on the host, in double:
 *   encode  y = W ((x + b) * s)      = (W diag(s)) x + W (b * s)
 *   decode  x = (W^-1 y) / s - b     = (W^-1 y - b * s) * (1 / s)
 * so a step is five dispatches: that 1x1 GEMM, conv1, conv2, conv3, coupling.
 * Log-determinant terms that depend on the data (affine couplings, priors) are summed
 * per pixel on the GPU into ld[n][pixel]; the constant ones are added on the host.
 *
 * Profiling (glow_vk_profile_enable) records a second command buffer per batch size and
 * direction with a timestamp after every command; mark() is a no-op for the normal ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glow/vk_priv.h"

struct vk_conv_w {
    size_t w, bias, scale; /* float offsets into the weight arena (SIZE_MAX: none) */
    size_t shift;          /* GLOWCAM_VK_NARROW=shift: the weights packed for the 1x1 GEMM of all taps */
};

struct vk_step {
    size_t fwd_w, fwd_b;        /* folded actnorm + invconv */
    size_t inv_w, inv_b, inv_s; /* its inverse */
    struct vk_conv_w c1, c2, c3;
    size_t ybias, yscale;
};

struct vk_level {
    int h, w, c;
    struct vk_step *steps;
    int has_post;
    struct vk_step post; /* only the fold */
    struct vk_conv_w prior;
    size_t top_h; /* last level: interleaved top mean/logscale [hw][2c] */
};

/* What one timed interval of a profiled command buffer was. */
struct vk_prof_op {
    int cls, ks, cin, cout;
    long m;
};

/* The timestamps of one profiled command buffer: query 0 at its start, query i + 1 after op i. */
struct vk_prof_rec {
    VkQueryPool pool;
    uint32_t cap; /* queries */
    int n;        /* ops recorded */
    int overflow;
    struct vk_prof_op *ops;
};

struct vk_batch {
    int n;
    VkCommandBuffer enc, dec;
    VkCommandBuffer prof_cb[2]; /* encode, decode with timestamps (profiling only) */
    struct vk_prof_rec prof[2];
};

struct vk_state {
    const glow_model *m;
    int post_bits; /* decode's postprocess bits: decode_bits, else n_bits */
    struct glow_vk_ctx *ctx;
    struct vk_level lv[GLOW_MAX_LEVELS];
    struct glow_vk_buf weights;
    struct glow_vk_buf x, y, t1, t2, hb, img, lat, ld, io;
    struct glow_vk_buf scratch; /* split-K partial sums of the v2 kernels */
    int cap;              /* faces per submission */
    size_t img_bytes;     /* per face, padded to 4 */
    size_t pix0;          /* pixels of level 0 */
    size_t t1_floats;     /* t1 per face: pix0 * width, or more for GLOWCAM_VK_NARROW=shift (t1_size) */
    double logdet_const;  /* data-independent log-determinant of one face */
    struct vk_batch batches[8];
    int nbatches;
    struct vk_prof_rec *rec; /* while recording a profiled command buffer, else NULL */
    /* host-side weight arena while building */
    float *host;
    size_t host_n, host_cap;
};

#define NONE ((size_t)-1)
/* What split-K can need: splits * M * cout < 256 workgroups * the largest tile (vk_ops.c). */
#define SCRATCH_FLOATS ((size_t)256 * 128 * 128)

static size_t wpush(struct vk_state *s, const float *v, size_t n)
{
    size_t off = (s->host_n + 63) & ~(size_t)63; /* 256-byte aligned: vec4 loads */
    if (off + n > s->host_cap) {
        size_t cap = s->host_cap ? s->host_cap : 1 << 16;
        while (off + n > cap)
            cap *= 2;
        float *h = realloc(s->host, cap * sizeof(float));
        if (!h)
            return NONE;
        memset(h + s->host_cap, 0, (cap - s->host_cap) * sizeof(float));
        s->host = h;
        s->host_cap = cap;
    }
    if (v)
        memcpy(s->host + off, v, n * sizeof(float));
    s->host_n = off + n;
    return off;
}

static size_t wpush_exp(struct vk_state *s, const float *logs, int n)
{
    size_t off = wpush(s, NULL, (size_t)n);
    if (off != NONE)
        for (int i = 0; i < n; i++)
            s->host[off + i] = (float)exp((double)logs[i]);
    return off;
}

static int push_conv(struct vk_state *s, struct vk_conv_w *cw, const float *w, int cout, int cin, int ks, int edge,
                     const float *bias, const float *logs)
{
    const int e = ks == 3 && edge;
    size_t n = (size_t)ks * ks * glow_vk_conv_cin_pad(cin, e) * cout;
    cw->w = wpush(s, NULL, n);
    if (cw->w == NONE)
        return -ENOMEM;
    glow_vk_conv_pack(w, cout, cin + e, ks, e, s->host + cw->w);
    cw->shift = NONE;
    cw->bias = bias ? wpush(s, bias, (size_t)cout) : NONE;
    cw->scale = logs ? wpush_exp(s, logs, cout) : NONE;
    if ((bias && cw->bias == NONE) || (logs && cw->scale == NONE))
        return -ENOMEM;
    return 0;
}

/* GLOWCAM_VK_NARROW=shift: a narrow conv3's weights also packed for the 1x1 GEMM of its 9 taps. */
static int push_shift(struct vk_state *s, struct vk_conv_w *cw, const float *w, int cout, int cin, int edge)
{
    if (s->ctx->narrow != GLOW_VK_NARROW_SHIFT || cout > GLOW_VK_NARROW_MAX_COUT)
        return 0;
    if ((cw->shift = wpush(s, NULL, glow_vk_conv_shift_floats(cin, cout))) == NONE)
        return -ENOMEM;
    glow_vk_conv_pack_shift(w, cout, cin, cin + (edge ? 1 : 0), s->host + cw->shift);
    return 0;
}

/* actnorm (b, logs) then invconv W, both directions, as 1x1 GEMMs; adds the log-det. */
static int push_fold(struct vk_state *s, struct vk_step *st, const float *b, const float *logs, const float *W, int c,
                     int hw)
{
    int r = -ENOMEM;
    double *inv = malloc(sizeof(double) * c * c);
    float *tmp = malloc(sizeof(float) * c * c), *vec = malloc(sizeof(float) * c);
    if (!inv || !tmp || !vec)
        goto fail;
    if ((r = glow_invert_matrix(W, c, inv)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: an invconv weight is singular", glow_model_path(s->m));
        goto fail;
    }
    r = -ENOMEM;
    /* forward: W' = W diag(s), bias' = W (b * s) */
    for (int o = 0; o < c; o++) {
        double acc = 0;
        for (int i = 0; i < c; i++) {
            double si = exp((double)logs[i]);
            tmp[o * c + i] = (float)(W[o * c + i] * si);
            acc += (double)W[o * c + i] * b[i] * si;
        }
        vec[o] = (float)acc;
    }
    size_t pn = (size_t)glow_vk_conv_cin_pad(c, 0) * c;
    if ((st->fwd_w = wpush(s, NULL, pn)) == NONE)
        goto fail;
    glow_vk_conv_pack(tmp, c, c, 1, 0, s->host + st->fwd_w);
    if ((st->fwd_b = wpush(s, vec, c)) == NONE)
        goto fail;
    /* inverse: (W^-1 y - b * s) * (1 / s) */
    for (int i = 0; i < c * c; i++)
        tmp[i] = (float)inv[i];
    if ((st->inv_w = wpush(s, NULL, pn)) == NONE)
        goto fail;
    glow_vk_conv_pack(tmp, c, c, 1, 0, s->host + st->inv_w);
    for (int i = 0; i < c; i++)
        vec[i] = (float)(-(double)b[i] * exp((double)logs[i]));
    if ((st->inv_b = wpush(s, vec, c)) == NONE)
        goto fail;
    for (int i = 0; i < c; i++)
        vec[i] = (float)exp(-(double)logs[i]);
    if ((st->inv_s = wpush(s, vec, c)) == NONE)
        goto fail;
    double ld = glow_log_abs_det(W, c);
    for (int i = 0; i < c; i++)
        ld += logs[i];
    s->logdet_const += (double)hw * ld;
    r = 0;
fail:
    free(inv);
    free(tmp);
    free(vec);
    return r;
}

static int build_weights(struct vk_state *s)
{
    const glow_model *m = s->m;
    const struct glow_config *cfg = &m->cfg;
    const int L = cfg->n_levels;
    int r;
    for (int l = 0; l < L; l++) {
        const struct glow_level *ml = &m->levels[l];
        struct vk_level *vl = &s->lv[l];
        const int c = ml->c, hw = ml->h * ml->w;
        vl->h = ml->h, vl->w = ml->w, vl->c = c;
        vl->steps = calloc((size_t)cfg->depth, sizeof(*vl->steps));
        if (!vl->steps)
            return -ENOMEM;
        for (int k = 0; k < cfg->depth; k++) {
            const struct glow_step *ms = &ml->steps[k];
            struct vk_step *st = &vl->steps[k];
            const struct glow_nn *nn = &ms->nn;
            if ((r = push_fold(s, st, ms->an_bias, ms->an_logs, ms->invconv, c, hw)) < 0)
                return r;
            if ((r = push_conv(s, &st->c1, nn->w1, nn->width, nn->cin, 3, cfg->edge_padding, nn->an1_bias,
                               nn->an1_logs)) < 0 ||
                (r = push_conv(s, &st->c2, nn->w2, nn->width, nn->width, 1, 0, nn->an2_bias, nn->an2_logs)) < 0 ||
                (r = push_conv(s, &st->c3, nn->w3, nn->cout, nn->width, 3, cfg->edge_padding, nn->b3, nn->logs3)) < 0 ||
                (r = push_shift(s, &st->c3, nn->w3, nn->cout, nn->width, cfg->edge_padding)) < 0)
                return r;
            st->ybias = ms->ybias ? wpush(s, ms->ybias, (size_t)c / 2) : NONE;
            st->yscale = ms->yscale ? wpush(s, ms->yscale, (size_t)c / 2) : NONE;
            if (ms->yscale)
                for (int j = 0; j < c / 2; j++)
                    s->logdet_const += (double)hw * log((double)ms->yscale[j]);
        }
        vl->has_post = ml->post_invconv != NULL;
        if (vl->has_post && (r = push_fold(s, &vl->post, ml->post_an_bias, ml->post_an_logs, ml->post_invconv, c, hw)) < 0)
            return r;
        if (l < L - 1) {
            if ((r = push_conv(s, &vl->prior, ml->prior_w, c, c / 2, 3, cfg->edge_padding, ml->prior_b,
                               ml->prior_logs)) < 0)
                return r;
        } else {
            if ((vl->top_h = wpush(s, NULL, (size_t)hw * 2 * c)) == NONE)
                return -ENOMEM;
            for (int i = 0; i < hw * c; i++) {
                s->host[vl->top_h + 2 * i] = m->top_mean[i];
                s->host[vl->top_h + 2 * i + 1] = m->top_logs[i];
            }
        }
    }
    if ((r = glow_vk_buf_create(s->ctx, &s->weights, s->host_n * sizeof(float), 0)) < 0)
        return r;
    r = glow_vk_upload(s->ctx, &s->weights, 0, s->host, s->host_n * sizeof(float));
    free(s->host);
    s->host = NULL;
    return r;
}

static VkDeviceAddress wa(const struct vk_state *s, size_t off)
{
    return off == NONE ? 0 : s->weights.addr + off * sizeof(float);
}

/* Floats per face of t1, the first hidden activation: with GLOWCAM_VK_NARROW=shift it also
 * holds a conv3's 9-tap products (9 * cout <= 9 * c per pixel), which may be wider. */
static size_t t1_size(const struct vk_state *s)
{
    size_t f = s->pix0 * (size_t)s->m->cfg.width;
    if (s->ctx->narrow == GLOW_VK_NARROW_SHIFT)
        for (int l = 0; l < s->m->cfg.n_levels; l++) {
            const struct glow_level *ml = &s->m->levels[l];
            const size_t need = (size_t)ml->h * ml->w * 9 * ml->c;
            f = need > f ? need : f;
        }
    return f;
}

/* Faces per submission: what the caller asked, within device memory and 32-bit indices. */
static int batch_capacity(const struct vk_state *s, int want)
{
    const struct glow_config *cfg = &s->m->cfg;
    const double s2 = (double)cfg->image_size * cfg->image_size;
    const double per =
        4.0 * (3 * 3 * s2 + (double)s->t1_floats + (double)s->pix0 * cfg->width + s2 * 3 + s->pix0) + s2 * 3 * 3;
    VkDeviceSize heap = 0;
    for (uint32_t i = 0; i < s->ctx->mem.memoryHeapCount; i++)
        if ((s->ctx->mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            s->ctx->mem.memoryHeaps[i].size > heap)
            heap = s->ctx->mem.memoryHeaps[i].size;
    double budget = heap ? 0.5 * (double)heap : 1e9;
    double lim = budget / per;
    const double widest = (double)s->pix0 * (cfg->width > 12 ? cfg->width : 12);
    double idx = 2147483647.0 / ((widest > (double)s->t1_floats ? widest : (double)s->t1_floats) + 4.0 * s2);
    if (lim > idx)
        lim = idx;
    int cap = want;
    if (cap > (int)lim)
        cap = (int)lim;
    return cap < 1 ? 1 : cap;
}

static int alloc_arena(struct vk_state *s)
{
    const struct glow_config *cfg = &s->m->cfg;
    const size_t n = (size_t)s->cap, s2 = (size_t)cfg->image_size * cfg->image_size;
    const size_t lat = s->m->latent_size;
    int r;
    s->img_bytes = (s2 * 3 + 3) & ~(size_t)3;
    if ((r = glow_vk_buf_create(s->ctx, &s->x, n * s2 * 3 * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->y, n * s2 * 3 * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->hb, n * s2 * 3 * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->t1, n * s->t1_floats * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->t2, n * s->pix0 * cfg->width * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->img, n * s->img_bytes, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->lat, n * lat * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->ld, n * s->pix0 * 4, 0)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->io, n * (s->img_bytes + lat * 4 + s->pix0 * 4), 1)) < 0 ||
        (r = glow_vk_buf_create(s->ctx, &s->scratch, SCRATCH_FLOATS * 4, 0)) < 0)
        return r;
    return 0;
}

/* io layout: [images][latents][ld] */
static VkDeviceSize io_lat(const struct vk_state *s) { return (VkDeviceSize)s->cap * s->img_bytes; }
static VkDeviceSize io_ld(const struct vk_state *s)
{
    return io_lat(s) + (VkDeviceSize)s->cap * s->m->latent_size * 4;
}

static void copy(VkCommandBuffer cb, struct glow_vk_buf *src, VkDeviceSize so, struct glow_vk_buf *dst, VkDeviceSize doff,
                 VkDeviceSize n)
{
    VkBufferCopy reg = {.srcOffset = so, .dstOffset = doff, .size = n};
    vkCmdCopyBuffer(cb, src->buf, dst->buf, 1, &reg);
}

static int rec_conv(struct vk_state *s, VkCommandBuffer cb, struct glow_vk_conv *cv)
{
    cv->scratch = s->scratch.addr;
    cv->scratch_floats = SCRATCH_FLOATS;
    return glow_vk_rec_conv(s->ctx, cb, cv);
}

/* Profiling: the op just recorded ends here (a timestamp once all earlier commands are done). */
static void mark(struct vk_state *s, VkCommandBuffer cb, enum glow_vk_prof_class cls, const struct glow_vk_conv *cv)
{
    struct vk_prof_rec *p = s->rec;
    if (!p)
        return;
    if ((uint32_t)p->n + 2 > p->cap) {
        p->overflow = 1;
        return;
    }
    struct vk_prof_op *op = &p->ops[p->n++];
    *op = (struct vk_prof_op){.cls = cls};
    if (cv) {
        op->ks = cv->ks;
        op->cin = cv->cin + (cv->ks == 3 && cv->edge ? 1 : 0);
        op->cout = cv->cout;
        op->m = (long)cv->n * cv->h * cv->w;
    }
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pool, (uint32_t)p->n);
}

/* The coupling network NN(a) of step st, a = first c/2 channels of x: h into s->hb. */
static int rec_nn(struct vk_state *s, VkCommandBuffer cb, const struct vk_step *st, const struct vk_level *vl, int n,
                  VkDeviceAddress x)
{
    const struct glow_config *cfg = &s->m->cfg;
    const int c = vl->c, w = cfg->width;
    const int cout = cfg->coupling == GLOW_COUPLING_AFFINE ? c : c / 2;
    struct glow_vk_conv cv = {.ks = 3, .edge = cfg->edge_padding, .n = n, .h = vl->h, .w = vl->w, .cin = c / 2,
                              .src_stride = c, .cout = w, .dst_stride = w, .src = x, .weights = wa(s, st->c1.w),
                              .bias = wa(s, st->c1.bias), .scale = wa(s, st->c1.scale), .dst = s->t1.addr, .relu = 1};
    int r;
    if ((r = rec_conv(s, cb, &cv)) < 0)
        return r;
    mark(s, cb, GLOW_VK_PROF_CONV1, &cv);
    glow_vk_rec_barrier(cb);
    cv = (struct glow_vk_conv){.ks = 1, .n = n, .h = vl->h, .w = vl->w, .cin = w, .src_stride = w, .cout = w,
                               .dst_stride = w, .src = s->t1.addr, .weights = wa(s, st->c2.w),
                               .bias = wa(s, st->c2.bias), .scale = wa(s, st->c2.scale), .dst = s->t2.addr, .relu = 1};
    if ((r = rec_conv(s, cb, &cv)) < 0)
        return r;
    mark(s, cb, GLOW_VK_PROF_CONV2, &cv);
    glow_vk_rec_barrier(cb);
    /* t1, read by the 1x1 above, is free for the products of GLOWCAM_VK_NARROW=shift */
    cv = (struct glow_vk_conv){.ks = 3, .edge = cfg->edge_padding, .n = n, .h = vl->h, .w = vl->w, .cin = w,
                               .src_stride = w, .cout = cout, .dst_stride = cout, .src = s->t2.addr,
                               .weights = wa(s, st->c3.w), .bias = wa(s, st->c3.bias), .scale = wa(s, st->c3.scale),
                               .dst = s->hb.addr, .shift_w = wa(s, st->c3.shift), .spare = s->t1.addr,
                               .spare_floats = (size_t)s->cap * s->t1_floats};
    if ((r = rec_conv(s, cb, &cv)) < 0)
        return r;
    mark(s, cb, GLOW_VK_PROF_CONV3, &cv);
    glow_vk_rec_barrier(cb);
    return 0;
}

static int rec_fold(struct vk_state *s, VkCommandBuffer cb, const struct vk_step *st, const struct vk_level *vl, int n,
                    int inverse, VkDeviceAddress src, VkDeviceAddress dst)
{
    struct glow_vk_conv cv = {.ks = 1, .n = n, .h = vl->h, .w = vl->w, .cin = vl->c, .src_stride = vl->c,
                              .cout = vl->c, .dst_stride = vl->c, .src = src, .dst = dst};
    if (!inverse) {
        cv.weights = wa(s, st->fwd_w);
        cv.bias = wa(s, st->fwd_b);
    } else {
        cv.weights = wa(s, st->inv_w);
        cv.bias = wa(s, st->inv_b);
        cv.scale = wa(s, st->inv_s);
    }
    int r = rec_conv(s, cb, &cv);
    mark(s, cb, GLOW_VK_PROF_FOLD, &cv);
    glow_vk_rec_barrier(cb);
    return r;
}

static int rec_prior(struct vk_state *s, VkCommandBuffer cb, const struct vk_level *vl, int n, VkDeviceAddress x)
{
    struct glow_vk_conv cv = {.ks = 3, .edge = s->m->cfg.edge_padding, .n = n, .h = vl->h, .w = vl->w,
                              .cin = vl->c / 2, .src_stride = vl->c, .cout = vl->c, .dst_stride = vl->c, .src = x,
                              .weights = wa(s, vl->prior.w), .bias = wa(s, vl->prior.bias),
                              .scale = wa(s, vl->prior.scale), .dst = s->hb.addr};
    int r = rec_conv(s, cb, &cv);
    mark(s, cb, GLOW_VK_PROF_PRIOR, &cv);
    glow_vk_rec_barrier(cb);
    return r;
}

/* Level l's Gaussian on x: its prior conv's mean and scale for the second half of the
 * channels on split levels, the learned top on the last. Encode writes eps and the
 * log-density; decode (inverse) writes x back from eps. */
static int rec_level_gauss(struct vk_state *s, VkCommandBuffer cb, int l, int n, int inverse, VkDeviceAddress x)
{
    const struct vk_level *vl = &s->lv[l];
    const int hw = vl->h * vl->w, c = vl->c;
    struct glow_vk_gauss g = {.inverse = inverse, .n = n, .hw = hw, .cx = c, .x = x, .lat = s->lat.addr,
                              .ld = s->ld.addr, .lat_stride = (int)s->m->latent_size,
                              .lat_off = (int)s->m->levels[l].eps_offset, .ld_stride = (int)s->pix0};
    int r;
    if (l < s->m->cfg.n_levels - 1) {
        if ((r = rec_prior(s, cb, vl, n, x)) < 0)
            return r;
        g.xoff = c / 2, g.c = c / 2, g.h = s->hb.addr, g.h_bstride = hw * c;
    } else {
        g.xoff = 0, g.c = c, g.h = wa(s, vl->top_h), g.h_bstride = 0;
    }
    r = glow_vk_rec_gauss(s->ctx, cb, &g);
    mark(s, cb, GLOW_VK_PROF_GAUSS, NULL);
    return r;
}

static int record_encode(struct vk_state *s, VkCommandBuffer cb, int n)
{
    const struct glow_config *cfg = &s->m->cfg;
    const int L = cfg->n_levels;
    struct glow_vk_buf *X = &s->x, *Y = &s->y, *T;
    int r;
    copy(cb, &s->io, 0, &s->img, 0, (VkDeviceSize)n * s->img_bytes);
    vkCmdFillBuffer(cb, s->ld.buf, 0, (VkDeviceSize)n * s->pix0 * 4, 0);
    mark(s, cb, GLOW_VK_PROF_COPY, NULL);
    glow_vk_rec_barrier(cb);
    if ((r = glow_vk_rec_pre(s->ctx, cb, s->img.addr, X->addr, n, cfg->image_size, cfg->n_bits)) < 0)
        return r;
    mark(s, cb, GLOW_VK_PROF_PREPOST, NULL);
    glow_vk_rec_barrier(cb);
    for (int l = 0; l < L; l++) {
        const struct vk_level *vl = &s->lv[l];
        const int hw = vl->h * vl->w, c = vl->c;
        for (int k = 0; k < cfg->depth; k++) {
            const struct vk_step *st = &vl->steps[k];
            if ((r = rec_fold(s, cb, st, vl, n, 0, X->addr, Y->addr)) < 0 || (r = rec_nn(s, cb, st, vl, n, Y->addr)) < 0)
                return r;
            struct glow_vk_coupling cp = {.affine = cfg->coupling == GLOW_COUPLING_AFFINE, .n = n, .hw = hw, .c = c,
                                          .x = Y->addr, .h = s->hb.addr, .ybias = wa(s, st->ybias),
                                          .yscale = wa(s, st->yscale), .ld = s->ld.addr, .ld_stride = (int)s->pix0};
            if ((r = glow_vk_rec_coupling(s->ctx, cb, &cp)) < 0)
                return r;
            mark(s, cb, GLOW_VK_PROF_COUPLING, NULL);
            glow_vk_rec_barrier(cb);
            T = X, X = Y, Y = T;
        }
        if (vl->has_post) {
            if ((r = rec_fold(s, cb, &vl->post, vl, n, 0, X->addr, Y->addr)) < 0)
                return r;
            T = X, X = Y, Y = T;
        }
        if ((r = rec_level_gauss(s, cb, l, n, 0, X->addr)) < 0)
            return r;
        if (l < L - 1) {
            if ((r = glow_vk_rec_squeeze(s->ctx, cb, 0, X->addr, Y->addr, n, vl->h, vl->w, c / 2, c)) < 0)
                return r;
            mark(s, cb, GLOW_VK_PROF_SQUEEZE, NULL);
        }
        glow_vk_rec_barrier(cb);
        T = X, X = Y, Y = T;
    }
    copy(cb, &s->lat, 0, &s->io, io_lat(s), (VkDeviceSize)n * s->m->latent_size * 4);
    copy(cb, &s->ld, 0, &s->io, io_ld(s), (VkDeviceSize)n * s->pix0 * 4);
    mark(s, cb, GLOW_VK_PROF_COPY, NULL);
    return 0;
}

static int record_decode(struct vk_state *s, VkCommandBuffer cb, int n)
{
    const struct glow_config *cfg = &s->m->cfg;
    const int L = cfg->n_levels;
    struct glow_vk_buf *X = &s->x, *Y = &s->y, *T;
    int r;
    copy(cb, &s->io, io_lat(s), &s->lat, 0, (VkDeviceSize)n * s->m->latent_size * 4);
    mark(s, cb, GLOW_VK_PROF_COPY, NULL);
    glow_vk_rec_barrier(cb);
    for (int l = L - 1; l >= 0; l--) {
        const struct vk_level *vl = &s->lv[l];
        const int hw = vl->h * vl->w, c = vl->c;
        if ((r = rec_level_gauss(s, cb, l, n, 1, X->addr)) < 0)
            return r;
        glow_vk_rec_barrier(cb);
        if (vl->has_post) {
            if ((r = rec_fold(s, cb, &vl->post, vl, n, 1, X->addr, Y->addr)) < 0)
                return r;
            T = X, X = Y, Y = T;
        }
        for (int k = cfg->depth - 1; k >= 0; k--) {
            const struct vk_step *st = &vl->steps[k];
            if ((r = rec_nn(s, cb, st, vl, n, X->addr)) < 0)
                return r;
            struct glow_vk_coupling cp = {.affine = cfg->coupling == GLOW_COUPLING_AFFINE, .inverse = 1, .n = n,
                                          .hw = hw, .c = c, .x = X->addr, .h = s->hb.addr, .ybias = wa(s, st->ybias),
                                          .yscale = wa(s, st->yscale), .ld = s->ld.addr, .ld_stride = (int)s->pix0};
            if ((r = glow_vk_rec_coupling(s->ctx, cb, &cp)) < 0)
                return r;
            mark(s, cb, GLOW_VK_PROF_COUPLING, NULL);
            glow_vk_rec_barrier(cb);
            if ((r = rec_fold(s, cb, st, vl, n, 1, X->addr, Y->addr)) < 0)
                return r;
            T = X, X = Y, Y = T;
        }
        if (l > 0) {
            /* into the first half of level l-1's channels */
            if ((r = glow_vk_rec_squeeze(s->ctx, cb, 1, Y->addr, X->addr, n, vl->h * 2, vl->w * 2, c / 4, c / 2)) < 0)
                return r;
            mark(s, cb, GLOW_VK_PROF_SQUEEZE, NULL);
            glow_vk_rec_barrier(cb);
            T = X, X = Y, Y = T;
        }
    }
    if ((r = glow_vk_rec_post(s->ctx, cb, X->addr, s->img.addr, n, cfg->image_size, s->post_bits)) < 0)
        return r;
    mark(s, cb, GLOW_VK_PROF_PREPOST, NULL);
    glow_vk_rec_barrier(cb);
    copy(cb, &s->img, 0, &s->io, 0, (VkDeviceSize)n * s->img_bytes);
    mark(s, cb, GLOW_VK_PROF_COPY, NULL);
    return 0;
}

/* ---- profiling (process-wide, see vk_priv.h) ---- */

const char *const glow_vk_prof_names[GLOW_VK_PROF_N] = {
    [GLOW_VK_PROF_FOLD] = "1x1 actnorm+invconv C->C",
    [GLOW_VK_PROF_CONV1] = "conv1 3x3 C/2->width",
    [GLOW_VK_PROF_CONV2] = "conv2 1x1 width->width",
    [GLOW_VK_PROF_CONV3] = "conv3 3x3 width->C|C/2",
    [GLOW_VK_PROF_PRIOR] = "split prior 3x3 C/2->C",
    [GLOW_VK_PROF_COUPLING] = "coupling",
    [GLOW_VK_PROF_GAUSS] = "gaussianize (priors)",
    [GLOW_VK_PROF_SQUEEZE] = "squeeze",
    [GLOW_VK_PROF_PREPOST] = "pre/postprocess",
    [GLOW_VK_PROF_COPY] = "copies and fills",
};

static struct {
    int on, unsupported;
    struct glow_vk_prof_entry *e;
    int n, cap;
    struct glow_vk_prof_total tot[2];
} g_prof;

void glow_vk_profile_enable(int on)
{
    if (on) {
        free(g_prof.e);
        memset(&g_prof, 0, sizeof(g_prof));
    }
    g_prof.on = on;
}

int glow_vk_profile_entries(const struct glow_vk_prof_entry **e)
{
    *e = g_prof.e;
    return g_prof.n;
}

void glow_vk_profile_total(int dir, struct glow_vk_prof_total *t) { *t = g_prof.tot[dir ? 1 : 0]; }

int glow_vk_profile_unsupported(void) { return g_prof.unsupported; }

static int prof_add(int dir, const struct vk_prof_op *op, double ms)
{
    struct glow_vk_prof_entry *e = NULL;
    for (int i = 0; i < g_prof.n && !e; i++) {
        struct glow_vk_prof_entry *x = &g_prof.e[i];
        if (x->dir == dir && x->cls == op->cls && x->ks == op->ks && x->cin == op->cin && x->cout == op->cout &&
            x->m == op->m)
            e = x;
    }
    if (!e) {
        if (g_prof.n == g_prof.cap) {
            int cap = g_prof.cap ? 2 * g_prof.cap : 64;
            struct glow_vk_prof_entry *ne = realloc(g_prof.e, sizeof(*ne) * cap);
            if (!ne)
                return -ENOMEM;
            g_prof.e = ne, g_prof.cap = cap;
        }
        e = &g_prof.e[g_prof.n++];
        *e = (struct glow_vk_prof_entry){.dir = dir, .cls = op->cls, .ks = op->ks, .cin = op->cin, .cout = op->cout,
                                         .m = op->m};
    }
    e->calls++;
    e->ms += ms;
    e->flop += 2.0 * op->m * op->cout * op->cin * op->ks * op->ks;
    return 0;
}

/* After a profiled submission: each op's time into the table. */
static int prof_collect(struct vk_state *s, const struct vk_prof_rec *p, int dir, double wall_s)
{
    const uint32_t nq = (uint32_t)p->n + 1;
    uint64_t *t = malloc(sizeof(uint64_t) * nq);
    if (!t)
        return -ENOMEM;
    VkResult vr = vkGetQueryPoolResults(s->ctx->dev, p->pool, 0, nq, sizeof(uint64_t) * nq, t, sizeof(uint64_t),
                                        VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (vr != VK_SUCCESS) {
        gc_log(GC_LOG_ERROR, "vulkan: vkGetQueryPoolResults: %s", glow_vk_result_name(vr));
        free(t);
        return -EIO;
    }
    const uint32_t bits = s->ctx->ts_bits;
    const uint64_t mask = bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
    const double ns = s->ctx->timestamp_ns;
    int r = 0;
    for (int i = 0; i < p->n && r == 0; i++)
        r = prof_add(dir, &p->ops[i], (double)((t[i + 1] - t[i]) & mask) * ns * 1e-6);
    struct glow_vk_prof_total *tot = &g_prof.tot[dir];
    tot->submissions++;
    tot->commands += p->n;
    tot->gpu_ms += (double)((t[p->n] - t[0]) & mask) * ns * 1e-6;
    tot->wall_ms += wall_s * 1e3;
    free(t);
    return r;
}

static void prof_rec_free(struct vk_state *s, struct vk_prof_rec *p)
{
    if (p->pool)
        vkDestroyQueryPool(s->ctx->dev, p->pool, NULL);
    free(p->ops);
    memset(p, 0, sizeof(*p));
}

/* Records the profiled twin of a batch's command buffer: the same commands, a timestamp
 * after each (the query pool holds one more than the commands a model can record). */
static int record_profiled(struct vk_state *s, struct vk_batch *b, int decode)
{
    const struct glow_config *cfg = &s->m->cfg;
    struct vk_prof_rec *p = &b->prof[decode];
    p->cap = (uint32_t)(cfg->n_levels * (5 * cfg->depth + 4) + 8);
    p->ops = calloc(p->cap, sizeof(*p->ops));
    if (!p->ops)
        return -ENOMEM;
    VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                 .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = p->cap};
    VkResult vr = vkCreateQueryPool(s->ctx->dev, &qci, NULL, &p->pool);
    if (vr != VK_SUCCESS) {
        gc_log(GC_LOG_ERROR, "vulkan: vkCreateQueryPool: %s", glow_vk_result_name(vr));
        return -EIO;
    }
    VkCommandBuffer c = glow_vk_cmd_begin(s->ctx);
    if (!c)
        return -EIO;
    vkCmdResetQueryPool(c, p->pool, 0, p->cap);
    vkCmdWriteTimestamp(c, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pool, 0);
    s->rec = p;
    int r = decode ? record_decode(s, c, b->n) : record_encode(s, c, b->n);
    s->rec = NULL;
    if (r == 0 && p->overflow) {
        gc_log(GC_LOG_ERROR, "vulkan: profiling: more commands than the %u timestamps", p->cap);
        r = -EIO;
    }
    if (r == 0 && vkEndCommandBuffer(c) != VK_SUCCESS)
        r = -EIO;
    if (r < 0) {
        vkFreeCommandBuffers(s->ctx->dev, s->ctx->pool, 1, &c);
        return r;
    }
    b->prof_cb[decode] = c;
    return 0;
}

static void batch_free(struct vk_state *s, struct vk_batch *b)
{
    VkCommandBuffer cbs[4] = {b->enc, b->dec, b->prof_cb[0], b->prof_cb[1]};
    for (int i = 0; i < 4; i++)
        if (cbs[i])
            vkFreeCommandBuffers(s->ctx->dev, s->ctx->pool, 1, &cbs[i]);
    prof_rec_free(s, &b->prof[0]);
    prof_rec_free(s, &b->prof[1]);
}

/* The recorded command buffers for a batch of n (recorded on first use). */
static struct vk_batch *batch_for(struct vk_state *s, int n, int decode)
{
    struct vk_batch *b = NULL;
    for (int i = 0; i < s->nbatches; i++)
        if (s->batches[i].n == n)
            b = &s->batches[i];
    if (!b) {
        const int max = (int)(sizeof(s->batches) / sizeof(s->batches[0]));
        if (s->nbatches == max) { /* forget the oldest */
            batch_free(s, &s->batches[0]);
            memmove(&s->batches[0], &s->batches[1], sizeof(s->batches[0]) * (max - 1));
            s->nbatches--;
        }
        b = &s->batches[s->nbatches++];
        *b = (struct vk_batch){.n = n};
    }
    VkCommandBuffer *cb = decode ? &b->dec : &b->enc;
    if (!*cb) {
        VkCommandBuffer c = glow_vk_cmd_begin(s->ctx);
        if (!c)
            return NULL;
        int r = decode ? record_decode(s, c, n) : record_encode(s, c, n);
        if (r == 0 && vkEndCommandBuffer(c) != VK_SUCCESS)
            r = -EIO;
        if (r < 0) {
            vkFreeCommandBuffers(s->ctx->dev, s->ctx->pool, 1, &c);
            return NULL;
        }
        *cb = c;
    }
    return b;
}

/* Submits a batch's command buffer and waits; the profiled twin while profiling. */
static int batch_run(struct vk_state *s, struct vk_batch *b, int decode)
{
    if (!g_prof.on || !s->ctx->ts_bits) {
        if (g_prof.on)
            g_prof.unsupported = 1;
        return glow_vk_submit_wait(s->ctx, decode ? b->dec : b->enc);
    }
    int r;
    if (!b->prof_cb[decode] && (r = record_profiled(s, b, decode)) < 0) {
        prof_rec_free(s, &b->prof[decode]);
        return r;
    }
    double t0 = gc_time();
    if ((r = glow_vk_submit_wait(s->ctx, b->prof_cb[decode])) < 0)
        return r;
    return prof_collect(s, &b->prof[decode], decode, gc_time() - t0);
}

static void vk_destroy(void *state)
{
    struct vk_state *s = state;
    if (!s)
        return;
    if (s->ctx) {
        vkDeviceWaitIdle(s->ctx->dev);
        for (int i = 0; i < s->nbatches; i++)
            batch_free(s, &s->batches[i]);
        struct glow_vk_buf *bufs[] = {&s->weights, &s->x, &s->y, &s->t1, &s->t2, &s->hb,
                                      &s->img, &s->lat, &s->ld, &s->io, &s->scratch};
        for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
            glow_vk_buf_free(s->ctx, bufs[i]);
    }
    for (int l = 0; l < GLOW_MAX_LEVELS; l++)
        free(s->lv[l].steps);
    free(s->host);
    glow_vk_ctx_free(&s->ctx);
    free(s);
}

/* $GLOWCAM_VK_MMA=fp32|fp16|coopmat overrides glow_params.fp16 (for tests and benchmarks). */
static enum glow_vk_mma wanted_mma(const struct glow_params *p)
{
    const char *e = getenv("GLOWCAM_VK_MMA");
    if (e && !strcmp(e, "fp32"))
        return GLOW_VK_MMA_FP32;
    if (e && !strcmp(e, "fp16"))
        return GLOW_VK_MMA_FP16;
    if (e && !strcmp(e, "coopmat"))
        return GLOW_VK_MMA_COOPMAT;
    return p->fp16 ? GLOW_VK_MMA_COOPMAT : GLOW_VK_MMA_FP32;
}

static int vk_create(void **state, const glow_model *m, const struct glow_params *p, char *describe,
                     size_t describe_size)
{
    *state = NULL;
    struct vk_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->m = m;
    s->post_bits = p->decode_bits ? p->decode_bits : m->cfg.n_bits;
    int r = glow_vk_ctx_create(&s->ctx, p->device, wanted_mma(p), describe, describe_size);
    if (r < 0)
        goto fail;
    s->pix0 = (size_t)m->levels[0].h * m->levels[0].w;
    s->t1_floats = t1_size(s);
    if ((r = build_weights(s)) < 0)
        goto fail;
    s->cap = batch_capacity(s, p->max_batch);
    if ((r = alloc_arena(s)) < 0)
        goto fail;
    *state = s;
    return 0;
fail:
    gc_log(GC_LOG_ERROR, "%s: cannot set up the Vulkan backend: %s", glow_model_path(m), gc_strerror(r));
    vk_destroy(s);
    return r;
}

static int vk_encode(void *state, const uint8_t *images, int n, float *latents, double *bpd)
{
    struct vk_state *s = state;
    const struct glow_config *cfg = &s->m->cfg;
    const size_t isz = (size_t)cfg->image_size * cfg->image_size * 3, lsz = s->m->latent_size;
    const double D = (double)isz;
    for (int i = 0; i < n; i += s->cap) {
        int nb = n - i < s->cap ? n - i : s->cap;
        struct vk_batch *b = batch_for(s, nb, 0);
        if (!b)
            return -EIO;
        for (int j = 0; j < nb; j++)
            memcpy((uint8_t *)s->io.map + (size_t)j * s->img_bytes, images + (size_t)(i + j) * isz, isz);
        int r = batch_run(s, b, 0);
        if (r < 0)
            return r;
        memcpy(latents + (size_t)i * lsz, (uint8_t *)s->io.map + io_lat(s), (size_t)nb * lsz * sizeof(float));
        if (bpd) {
            const float *ld = (const float *)((uint8_t *)s->io.map + io_ld(s));
            for (int j = 0; j < nb; j++) {
                double obj = s->logdet_const;
                for (size_t q = 0; q < s->pix0; q++)
                    obj += ld[(size_t)j * s->pix0 + q];
                bpd[i + j] = (-obj + D * log((double)(1 << cfg->n_bits))) / (D * log(2.0));
            }
        }
    }
    return 0;
}

static int vk_decode(void *state, const float *latents, int n, uint8_t *images)
{
    struct vk_state *s = state;
    const struct glow_config *cfg = &s->m->cfg;
    const size_t isz = (size_t)cfg->image_size * cfg->image_size * 3, lsz = s->m->latent_size;
    for (int i = 0; i < n; i += s->cap) {
        int nb = n - i < s->cap ? n - i : s->cap;
        struct vk_batch *b = batch_for(s, nb, 1);
        if (!b)
            return -EIO;
        memcpy((uint8_t *)s->io.map + io_lat(s), latents + (size_t)i * lsz, (size_t)nb * lsz * sizeof(float));
        int r = batch_run(s, b, 1);
        if (r < 0)
            return r;
        for (int j = 0; j < nb; j++)
            memcpy(images + (size_t)(i + j) * isz, (uint8_t *)s->io.map + (size_t)j * s->img_bytes, isz);
    }
    return 0;
}

const struct glow_backend_ops glow_vk_ops = {
    .name = "vulkan",
    .create = vk_create,
    .encode = vk_encode,
    .decode = vk_decode,
    .destroy = vk_destroy,
};
