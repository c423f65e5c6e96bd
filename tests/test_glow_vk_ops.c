/* Every Vulkan shader against a plain double-precision CPU twin, on random inputs of
 * several shapes (odd ones included), fp32 and the fp16-operand convolution path.
 * Relative error = max |gpu - cpu| / max |cpu| over the op's outputs.
 * Usage: test_glow_vk_ops [--quick]   (needs a Vulkan device; lavapipe in CI) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glow/vk_priv.h"

#define FP32_BOUND 1e-5
#define FP16_BOUND 1e-3 /* operands rounded to fp16 (11-bit mantissa), fp32 sums */

static int failures;
static uint64_t rng_state = 88172645463325252ull;

static double urand(void) /* [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (rng_state >> 11) * (1.0 / 9007199254740992.0);
}
static float srand1(void) { return (float)(2 * urand() - 1); }

static void check(const char *what, double err, double bound)
{
    int ok = err <= bound && err == err;
    printf("%-72s max_rel=%.2e (bound %.0e) %s\n", what, err, bound, ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

/* The largest |g - r| over `scale` (NaN propagates). */
static double err_over(const float *g, const double *r, size_t n, double scale)
{
    double md = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(g[i] - r[i]);
        if (!(d <= md))
            md = d;
    }
    return md / (scale > 0 ? scale : 1);
}

/* The largest error relative to the largest |r|. */
static double rel_err(const float *g, const double *r, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(r[i]) > mx)
            mx = fabs(r[i]);
    return err_over(g, r, n, mx);
}

/* A device buffer holding n floats, filled from host (or zero). */
static struct glow_vk_buf fbuf(struct glow_vk_ctx *ctx, const float *host, size_t n)
{
    struct glow_vk_buf b;
    if (glow_vk_buf_create(ctx, &b, n * 4 + 16, 0) < 0) {
        fprintf(stderr, "buffer allocation failed\n");
        exit(1);
    }
    if (host && glow_vk_upload(ctx, &b, 0, host, n * 4) < 0)
        exit(1);
    return b;
}

static void run_and_wait(struct glow_vk_ctx *ctx, VkCommandBuffer cb)
{
    if (glow_vk_cmd_end_wait(ctx, cb) < 0) {
        fprintf(stderr, "submission failed\n");
        exit(1);
    }
}

static float *rand_floats(size_t n, float scale)
{
    float *v = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++)
        v[i] = scale * srand1();
    return v;
}

struct conv_case {
    int ks, edge, n, h, w, cin, src_stride, src_off, cout, dst_stride, dst_off, bias, scale, relu;
};

/* the 3x3 convolutions GLOWCAM_VK_NARROW takes (rec_conv_narrow in vk_ops.c) */
static int narrow_case(const struct conv_case *cc)
{
    return cc->ks == 3 && cc->cout <= GLOW_VK_NARROW_MAX_COUT && cc->h >= 16 && cc->w >= 16;
}

#define SPARE_SENTINEL 12345.0f

/* split_k: give the kernels a scratch, so that small grids with long k loops split k */
static void test_conv_k(struct glow_vk_ctx *ctx, const struct conv_case *cc, double bound, const char *tag, int split_k)
{
    const int e = cc->ks == 3 && cc->edge, cin_file = cc->cin + e, taps = cc->ks * cc->ks;
    const size_t M = (size_t)cc->n * cc->h * cc->w;
    float *src = rand_floats(M * cc->src_stride, 1.0f);
    float *w = rand_floats((size_t)cc->cout * cin_file * taps, 1.0f / sqrtf((float)cin_file * taps));
    float *bias = rand_floats(cc->cout, 0.5f), *scale = rand_floats(cc->cout, 1.0f);
    for (int o = 0; o < cc->cout; o++)
        scale[o] = expf(0.3f * scale[o]);
    float *dst0 = rand_floats(M * cc->dst_stride, 100.0f); /* sentinel outside [dst_off, dst_off + cout) */
    const int cin_pad = glow_vk_conv_cin_pad(cc->cin, e);
    float *packed = malloc(sizeof(float) * taps * cin_pad * cc->cout);
    glow_vk_conv_pack(w, cc->cout, cin_file, cc->ks, e, packed);

    struct glow_vk_buf bs = fbuf(ctx, src, M * cc->src_stride), bw = fbuf(ctx, packed, (size_t)taps * cin_pad * cc->cout);
    struct glow_vk_buf bb = fbuf(ctx, bias, cc->cout), bsc = fbuf(ctx, scale, cc->cout);
    struct glow_vk_buf bd = fbuf(ctx, dst0, M * cc->dst_stride);
    const size_t nscratch = split_k ? 256 * M * cc->cout : 0;
    struct glow_vk_buf bk = fbuf(ctx, NULL, nscratch);
    /* GLOWCAM_VK_NARROW=shift's weights and room for its 9-tap products (the other kernels
     * ignore them) */
    const int shift = cc->ks == 3;
    const size_t nshift = shift ? glow_vk_conv_shift_floats(cc->cin, cc->cout) : 0, nspare = shift ? M * 9 * cc->cout : 0;
    float *shift_w = malloc(sizeof(float) * nshift + 4), *spare = malloc(sizeof(float) * nspare + 4);
    if (shift)
        glow_vk_conv_pack_shift(w, cc->cout, cc->cin, cin_file, shift_w);
    for (size_t i = 0; i < nspare; i++)
        spare[i] = SPARE_SENTINEL;
    struct glow_vk_buf bsw = fbuf(ctx, shift_w, nshift), bsp = fbuf(ctx, spare, nspare);
    struct glow_vk_conv cv = {.ks = cc->ks, .edge = cc->edge, .n = cc->n, .h = cc->h, .w = cc->w, .cin = cc->cin,
                              .src_stride = cc->src_stride, .src_off = cc->src_off, .cout = cc->cout,
                              .dst_stride = cc->dst_stride, .dst_off = cc->dst_off, .src = bs.addr, .weights = bw.addr,
                              .bias = cc->bias ? bb.addr : 0, .scale = cc->scale ? bsc.addr : 0, .dst = bd.addr,
                              .relu = cc->relu, .scratch = split_k ? bk.addr : 0, .scratch_floats = nscratch,
                              .shift_w = shift ? bsw.addr : 0, .spare = shift ? bsp.addr : 0, .spare_floats = nspare};
    VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
    if (glow_vk_rec_conv(ctx, cb, &cv) < 0)
        exit(1);
    run_and_wait(ctx, cb);
    float *got = malloc(M * cc->dst_stride * sizeof(float));
    glow_vk_download(ctx, &bd, 0, got, M * cc->dst_stride * 4);

    double *ref = malloc(M * cc->cout * sizeof(double)), mag_max = 0;
    float *gsel = malloc(M * cc->cout * sizeof(float));
    int untouched = 1;
    for (size_t m = 0; m < M; m++) {
        const int x = (int)(m % cc->w), y = (int)(m / cc->w % cc->h);
        const size_t img = m - (size_t)y * cc->w - x;
        for (int o = 0; o < cc->cout; o++) {
            double acc = 0, mag = 0;
            for (int t = 0; t < taps; t++) {
                int yy = y + (cc->ks == 3 ? t / 3 - 1 : 0), xx = x + (cc->ks == 3 ? t % 3 - 1 : 0);
                int inside = yy >= 0 && yy < cc->h && xx >= 0 && xx < cc->w;
                for (int i = 0; i < cin_file; i++) {
                    double v;
                    if (i == cc->cin)
                        v = inside ? 0 : 1; /* edge channel */
                    else
                        v = inside ? src[(img + (size_t)yy * cc->w + xx) * cc->src_stride + cc->src_off + i] : 0;
                    acc += v * w[((size_t)o * cin_file + i) * taps + t];
                    mag += fabs(v * w[((size_t)o * cin_file + i) * taps + t]);
                }
            }
            if (cc->bias)
                acc += bias[o], mag += fabs(bias[o]);
            if (cc->scale)
                acc *= scale[o], mag *= scale[o];
            if (mag > mag_max)
                mag_max = mag;
            if (cc->relu && acc < 0)
                acc = 0;
            ref[m * cc->cout + o] = acc;
            gsel[m * cc->cout + o] = got[m * cc->dst_stride + cc->dst_off + o];
        }
        for (int o = 0; o < cc->dst_stride; o++)
            if ((o < cc->dst_off || o >= cc->dst_off + cc->cout) && got[m * cc->dst_stride + o] != dst0[m * cc->dst_stride + o])
                untouched = 0;
    }
    char what[160];
    snprintf(what, sizeof(what), "%s conv%dx%d%s(n=%d,h=%d,w=%d,cin=%d,cout=%d%s%s%s%s)", tag, cc->ks, cc->ks,
             e ? "+edge" : "", cc->n, cc->h, cc->w, cc->cin, cc->cout, cc->bias ? ",bias" : "",
             cc->scale ? ",scale" : "", cc->relu ? ",relu" : "", cc->src_off || cc->dst_off ? ",offsets" : "");
    /* relative to the largest sum of |terms| of an output, the scale of a dot product's
     * rounding error (fp16 operands: about 2^-11 of it), which cancellation can put far above
     * the largest |result| (one pixel outside the image: 9 edge weights, 2e-3 of the result) */
    check(what, err_over(gsel, ref, M * cc->cout, mag_max), bound);
    if (!untouched) {
        printf("%s: FAIL wrote outside its output channels\n", what);
        failures++;
    }
    if (ctx->narrow == GLOW_VK_NARROW_SHIFT && narrow_case(cc)) { /* the products went through spare */
        glow_vk_download(ctx, &bsp, 0, spare, nspare * 4);
        size_t left = 0;
        for (size_t i = 0; i < nspare; i++)
            left += spare[i] == SPARE_SENTINEL;
        if (left) {
            printf("%s: FAIL the 9-tap products left %zu of %zu values of the spare buffer unwritten\n", what, left,
                   nspare);
            failures++;
        }
    }
    struct glow_vk_buf *bufs[] = {&bs, &bw, &bb, &bsc, &bd, &bk, &bsw, &bsp};
    for (int i = 0; i < 8; i++)
        glow_vk_buf_free(ctx, bufs[i]);
    free(src), free(w), free(bias), free(scale), free(dst0), free(packed), free(got), free(ref), free(gsel);
    free(shift_w), free(spare);
}

static void test_conv(struct glow_vk_ctx *ctx, const struct conv_case *cc, double bound, const char *tag)
{
    test_conv_k(ctx, cc, bound, tag, 0);
}

static const struct conv_case conv_cases[] = {
    /* ks edge n h w cin sstride soff cout dstride doff bias scale relu */
    {1, 0, 1, 1, 1, 12, 12, 0, 12, 12, 0, 1, 0, 0},     /* invconv fold, one pixel */
    {1, 0, 2, 7, 5, 12, 12, 0, 12, 12, 0, 1, 1, 0},     /* invconv inverse */
    {1, 0, 1, 9, 7, 64, 64, 0, 64, 64, 0, 1, 1, 1},     /* conv2 */
    {1, 0, 3, 3, 5, 20, 20, 0, 70, 70, 0, 1, 1, 1},     /* cout not a tile multiple */
    {1, 0, 1, 7, 3, 13, 13, 0, 17, 17, 0, 0, 0, 0},     /* odd channels: scalar loads */
    {1, 0, 2, 5, 7, 96, 96, 0, 128, 128, 0, 1, 1, 1},   /* widest tile */
    {3, 0, 1, 5, 5, 6, 12, 0, 32, 32, 0, 1, 1, 1},      /* conv1 on the first half */
    {3, 1, 2, 4, 4, 6, 12, 0, 32, 32, 0, 1, 1, 1},      /* conv1 with edge padding */
    {3, 1, 1, 7, 9, 32, 32, 0, 12, 12, 0, 1, 1, 0},     /* conv3, affine cout */
    {3, 0, 1, 1, 1, 7, 7, 0, 3, 3, 0, 1, 0, 0},         /* one pixel: every tap outside */
    {3, 1, 1, 1, 1, 7, 7, 0, 5, 5, 0, 0, 0, 0},         /* one pixel, edge padding */
    {3, 1, 3, 3, 7, 12, 24, 0, 24, 24, 0, 1, 1, 0},     /* split prior */
    {3, 1, 1, 8, 8, 48, 48, 0, 64, 80, 8, 1, 1, 1},     /* output channel offset */
    {3, 0, 2, 11, 13, 1, 3, 2, 66, 66, 0, 1, 1, 1},     /* cin 1 at an odd offset */
    {3, 1, 1, 17, 19, 33, 33, 0, 129, 129, 0, 1, 1, 1}, /* larger and odd */
    {1, 0, 3, 1, 1, 384, 384, 0, 384, 384, 0, 1, 1, 0}, /* deepest level of a 6-level model */
    {3, 1, 3, 2, 2, 192, 384, 0, 384, 384, 0, 1, 1, 0},
    {3, 1, 2, 4, 4, 96, 192, 0, 96, 96, 0, 1, 1, 1},
    {1, 0, 3, 2, 2, 512, 512, 0, 128, 128, 0, 1, 1, 1}, /* width 512: long k loops (llvmpipe stops loops at 65535 trips) */
    {3, 1, 2, 3, 3, 96, 96, 0, 12, 12, 0, 1, 1, 0},     /* a deep zero conv: narrow tile, long k loop (split-K) */
    /* conv2.comp's tiles (128x128, 128x64, 256x16): edges of M and cout, vec4 and scalar paths */
    {1, 0, 1, 13, 11, 128, 128, 0, 256, 256, 0, 1, 1, 0}, /* two 128-wide n tiles, M not a tile multiple */
    {1, 0, 2, 9, 11, 32, 32, 0, 100, 103, 3, 1, 1, 1},    /* cout % 4, odd dst stride and offset: scalar B and stores */
    {3, 1, 2, 5, 6, 3, 3, 0, 40, 40, 0, 1, 1, 1},         /* cin_pad 4: one k tile spans two taps */
    {3, 1, 2, 19, 15, 24, 48, 24, 24, 24, 0, 1, 1, 0},     /* M = 570 over 256-pixel tiles, input channel offset */
    /* conv3n.comp's cases (3x3, cout <= 48, images of at least 16 x 16; 16 x 32 tiles, 8 output
     * and 8 input channels a step): partial tiles, steps and channel groups, both loaders */
    {3, 1, 2, 33, 37, 41, 48, 4, 6, 6, 0, 1, 1, 0},       /* conv3 of an affine coupling: cin_pad 44 = 5.5 steps */
    {3, 0, 1, 16, 16, 20, 20, 0, 12, 12, 0, 1, 1, 1},     /* no edge, a half-used second channel group, ReLU */
    {3, 1, 1, 20, 40, 128, 128, 0, 24, 30, 3, 1, 1, 0},   /* odd dst stride and offset: scalar stores; splits */
    {3, 1, 1, 16, 17, 7, 7, 0, 48, 48, 0, 1, 1, 1},       /* cin 7: scalar loads; six channel groups */
    {3, 1, 1, 16, 32, 100, 100, 0, 6, 6, 0, 1, 1, 0},     /* 13 steps in 3 uneven splits */
};

static void test_pre_post(struct glow_vk_ctx *ctx, int n, int size, int n_bits)
{
    const size_t nb = (size_t)n * size * size * 3, h2 = size / 2;
    uint8_t *img = malloc(nb + 4);
    for (size_t i = 0; i < nb; i++)
        img[i] = (uint8_t)(urand() * 256);
    struct glow_vk_buf bi, bx;
    glow_vk_buf_create(ctx, &bi, nb + 4, 0);
    glow_vk_upload(ctx, &bi, 0, img, nb);
    bx = fbuf(ctx, NULL, nb);
    VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
    glow_vk_rec_pre(ctx, cb, bi.addr, bx.addr, n, size, n_bits);
    run_and_wait(ctx, cb);
    float *x = malloc(nb * sizeof(float));
    double *ref = malloc(nb * sizeof(double));
    glow_vk_download(ctx, &bx, 0, x, nb * 4);
    for (int b = 0; b < n; b++)
        for (size_t y = 0; y < h2; y++)
            for (size_t xx = 0; xx < h2; xx++)
                for (int c = 0; c < 3; c++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            ref[(((size_t)b * h2 + y) * h2 + xx) * 12 + c * 4 + dy * 2 + dx] = glow_preprocess(
                                img[(((size_t)b * size + 2 * y + dy) * size + 2 * xx + dx) * 3 + c], n_bits);
    char what[128];
    snprintf(what, sizeof(what), "preprocess+squeeze(n=%d,size=%d,n_bits=%d)", n, size, n_bits);
    check(what, rel_err(x, ref, nb), 1e-6);

    /* postprocess: bin centres plus noise inside the bin, and out-of-range values */
    const float bins = (float)(1 << n_bits);
    for (size_t i = 0; i < nb; i++) {
        float q = floorf((float)urand() * (bins + 2)) - 1; /* -1 .. bins: clipping too */
        x[i] = (q + 0.5f + 0.8f * ((float)urand() - 0.5f)) / bins - 0.5f;
    }
    glow_vk_upload(ctx, &bx, 0, x, nb * 4);
    cb = glow_vk_cmd_begin(ctx);
    glow_vk_rec_post(ctx, cb, bx.addr, bi.addr, n, size, n_bits);
    run_and_wait(ctx, cb);
    glow_vk_download(ctx, &bi, 0, img, nb);
    size_t bad = 0;
    for (int b = 0; b < n; b++)
        for (int Y = 0; Y < size; Y++)
            for (int X = 0; X < size; X++)
                for (int c = 0; c < 3; c++) {
                    float v = x[(((size_t)b * h2 + Y / 2) * h2 + X / 2) * 12 + c * 4 + (Y % 2) * 2 + X % 2];
                    if (img[(((size_t)b * size + Y) * size + X) * 3 + c] != glow_postprocess(v, n_bits))
                        bad++;
                }
    printf("%-72s mismatches=%zu of %zu %s\n", "unsqueeze+postprocess", bad, nb, bad ? "FAIL" : "ok");
    failures += bad != 0;
    glow_vk_buf_free(ctx, &bi);
    glow_vk_buf_free(ctx, &bx);
    free(img), free(x), free(ref);
}

static void test_squeeze(struct glow_vk_ctx *ctx, int n, int h, int w, int c, int big_stride)
{
    const size_t nbig = (size_t)n * h * w * big_stride, nsmall = (size_t)n * h * w * c;
    float *big = rand_floats(nbig, 1), *small = malloc(nsmall * 4), *back = malloc(nbig * 4);
    struct glow_vk_buf bb = fbuf(ctx, big, nbig), bs = fbuf(ctx, NULL, nsmall), b2 = fbuf(ctx, NULL, nbig);
    float *zero = calloc(nbig, 4);
    glow_vk_upload(ctx, &b2, 0, zero, nbig * 4);
    VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
    glow_vk_rec_squeeze(ctx, cb, 0, bb.addr, bs.addr, n, h, w, c, big_stride);
    glow_vk_rec_barrier(cb);
    glow_vk_rec_squeeze(ctx, cb, 1, b2.addr, bs.addr, n, h, w, c, big_stride);
    run_and_wait(ctx, cb);
    glow_vk_download(ctx, &bs, 0, small, nsmall * 4);
    glow_vk_download(ctx, &b2, 0, back, nbig * 4);
    size_t bad = 0;
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h / 2; y++)
            for (int x = 0; x < w / 2; x++)
                for (int ch = 0; ch < c; ch++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            size_t si = (((size_t)b * (h / 2) + y) * (w / 2) + x) * 4 * c + ch * 4 + dy * 2 + dx;
                            size_t bi = (((size_t)b * h + 2 * y + dy) * w + 2 * x + dx) * big_stride + ch;
                            bad += small[si] != big[bi] || back[bi] != big[bi];
                        }
    for (size_t p = 0; p < (size_t)n * h * w; p++)
        for (int ch = c; ch < big_stride; ch++)
            bad += back[p * big_stride + ch] != 0; /* unsqueeze leaves other channels alone */
    char what[128];
    snprintf(what, sizeof(what), "squeeze+unsqueeze(n=%d,h=%d,w=%d,c=%d,stride=%d)", n, h, w, c, big_stride);
    printf("%-72s mismatches=%zu %s\n", what, bad, bad ? "FAIL" : "ok");
    failures += bad != 0;
    glow_vk_buf_free(ctx, &bb), glow_vk_buf_free(ctx, &bs), glow_vk_buf_free(ctx, &b2);
    free(big), free(small), free(back), free(zero);
}

static void test_coupling(struct glow_vk_ctx *ctx, int affine, int inverse, int n, int hw, int c, int ybias, int yscale)
{
    const size_t P = (size_t)n * hw, hc = affine ? c : c / 2, ld_stride = hw + 3;
    float *x = rand_floats(P * c, 1), *h = rand_floats(P * hc, 2), *yb = rand_floats(c / 2, 0.3f);
    float *ys = rand_floats(c / 2, 0.3f), *ld = rand_floats(n * ld_stride, 1);
    for (int j = 0; j < c / 2; j++)
        ys[j] = expf(ys[j]);
    struct glow_vk_buf bx = fbuf(ctx, x, P * c), bh = fbuf(ctx, h, P * hc), bb = fbuf(ctx, yb, c / 2);
    struct glow_vk_buf bs = fbuf(ctx, ys, c / 2), bl = fbuf(ctx, ld, n * ld_stride);
    struct glow_vk_coupling cp = {.affine = affine, .inverse = inverse, .n = n, .hw = hw, .c = c, .x = bx.addr,
                                  .h = bh.addr, .ybias = ybias ? bb.addr : 0, .yscale = yscale ? bs.addr : 0,
                                  .ld = bl.addr, .ld_stride = (int)ld_stride};
    VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
    glow_vk_rec_coupling(ctx, cb, &cp);
    run_and_wait(ctx, cb);
    float *gx = malloc(P * c * 4), *gl = malloc(n * ld_stride * 4);
    glow_vk_download(ctx, &bx, 0, gx, P * c * 4);
    glow_vk_download(ctx, &bl, 0, gl, n * ld_stride * 4);
    double *rx = malloc(P * c * 8), *rl = malloc(n * ld_stride * 8);
    for (size_t i = 0; i < (size_t)n * ld_stride; i++)
        rl[i] = ld[i];
    for (size_t p = 0; p < P; p++) {
        double lsum = 0;
        for (int j = 0; j < c / 2; j++) {
            rx[p * c + j] = x[p * c + j];
            double b = x[p * c + c / 2 + j];
            if (affine) {
                double sh = h[p * c + 2 * j], s = 1 / (1 + exp(-((double)h[p * c + 2 * j + 1] + 2)));
                b = inverse ? b / s - sh : (b + sh) * s;
                lsum += log(s);
            } else if (!inverse) {
                b = b + h[p * hc + j];
                if (ybias)
                    b += yb[j];
                if (yscale)
                    b *= ys[j];
            } else {
                if (yscale)
                    b /= ys[j];
                if (ybias)
                    b -= yb[j];
                b -= h[p * hc + j];
            }
            rx[p * c + c / 2 + j] = b;
        }
        if (affine && !inverse)
            rl[(p / hw) * ld_stride + p % hw] += lsum;
    }
    char what[128];
    snprintf(what, sizeof(what), "coupling %s%s(n=%d,hw=%d,c=%d%s%s)", affine ? "affine" : "additive",
             inverse ? " inverse" : "", n, hw, c, ybias ? ",ybias" : "", yscale ? ",yscale" : "");
    check(what, rel_err(gx, rx, P * c), FP32_BOUND);
    if (affine && !inverse) {
        snprintf(what, sizeof(what), "coupling affine log-det(n=%d,hw=%d,c=%d)", n, hw, c);
        check(what, rel_err(gl, rl, n * ld_stride), FP32_BOUND);
    }
    glow_vk_buf_free(ctx, &bx), glow_vk_buf_free(ctx, &bh), glow_vk_buf_free(ctx, &bb);
    glow_vk_buf_free(ctx, &bs), glow_vk_buf_free(ctx, &bl);
    free(x), free(h), free(yb), free(ys), free(ld), free(gx), free(gl), free(rx), free(rl);
}

static void test_gauss(struct glow_vk_ctx *ctx, int inverse, int top, int n, int hw, int c)
{
    const int cx = top ? c : 2 * c, xoff = top ? 0 : c;
    const size_t P = (size_t)n * hw, lat_stride = (size_t)hw * c + 5, lat_off = 3, ld_stride = hw + 1;
    const size_t hn = top ? (size_t)hw * 2 * c : P * 2 * c;
    float *x = rand_floats(P * cx, 1), *h = rand_floats(hn, 0.5f), *lat = rand_floats(n * lat_stride, 1);
    float *ld = rand_floats(n * ld_stride, 1);
    struct glow_vk_buf bx = fbuf(ctx, x, P * cx), bh = fbuf(ctx, h, hn), bl = fbuf(ctx, lat, n * lat_stride);
    struct glow_vk_buf bd = fbuf(ctx, ld, n * ld_stride);
    struct glow_vk_gauss g = {.inverse = inverse, .n = n, .hw = hw, .cx = cx, .xoff = xoff, .c = c, .x = bx.addr,
                              .h = bh.addr, .lat = bl.addr, .ld = bd.addr, .h_bstride = top ? 0 : hw * 2 * c,
                              .lat_stride = (int)lat_stride, .lat_off = (int)lat_off, .ld_stride = (int)ld_stride};
    VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
    glow_vk_rec_gauss(ctx, cb, &g);
    run_and_wait(ctx, cb);
    float *gx = malloc(P * cx * 4), *gl = malloc(n * lat_stride * 4), *gd = malloc(n * ld_stride * 4);
    glow_vk_download(ctx, &bx, 0, gx, P * cx * 4);
    glow_vk_download(ctx, &bl, 0, gl, n * lat_stride * 4);
    glow_vk_download(ctx, &bd, 0, gd, n * ld_stride * 4);
    double *rx = malloc(P * cx * 8), *rl = malloc(n * lat_stride * 8), *rd = malloc(n * ld_stride * 8);
    for (size_t i = 0; i < P * cx; i++)
        rx[i] = x[i];
    for (size_t i = 0; i < n * lat_stride; i++)
        rl[i] = lat[i];
    for (size_t i = 0; i < n * ld_stride; i++)
        rd[i] = ld[i];
    for (size_t p = 0; p < P; p++) {
        size_t b = p / hw, q = p % hw;
        size_t hb = (top ? 0 : b * hw * 2 * c) + q * 2 * c;
        double logp = 0;
        for (int j = 0; j < c; j++) {
            double mean = h[hb + 2 * j], logs = h[hb + 2 * j + 1];
            size_t li = b * lat_stride + lat_off + q * c + j;
            if (!inverse) {
                double eps = (x[p * cx + xoff + j] - mean) / exp(logs);
                rl[li] = eps;
                logp += -0.5 * (log(2 * M_PI) + 2 * logs + eps * eps);
            } else {
                rx[p * cx + xoff + j] = mean + exp(logs) * lat[li];
            }
        }
        if (!inverse)
            rd[b * ld_stride + q] += logp;
    }
    char what[128];
    snprintf(what, sizeof(what), "%s %s(n=%d,hw=%d,c=%d)", top ? "top prior" : "split prior",
             inverse ? "ungaussianize" : "gaussianize", n, hw, c);
    if (!inverse) {
        check(what, rel_err(gl, rl, n * lat_stride), FP32_BOUND);
        snprintf(what, sizeof(what), "%s log-density(n=%d,hw=%d,c=%d)", top ? "top prior" : "split prior", n, hw, c);
        check(what, rel_err(gd, rd, n * ld_stride), FP32_BOUND);
    } else {
        check(what, rel_err(gx, rx, P * cx), FP32_BOUND);
    }
    glow_vk_buf_free(ctx, &bx), glow_vk_buf_free(ctx, &bh), glow_vk_buf_free(ctx, &bl), glow_vk_buf_free(ctx, &bd);
    free(x), free(h), free(lat), free(ld), free(gx), free(gl), free(gd), free(rx), free(rl), free(rd);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("GLOWCAM_DEBUG"))
        gc_log_set_level(GC_LOG_DEBUG);
    char why[384];
    struct glow_vk_ctx *ctx = NULL;
    if (glow_vk_ctx_create(&ctx, -1, GLOW_VK_MMA_FP32, why, sizeof(why)) < 0) {
        printf("FAIL: no Vulkan device (CI installs lavapipe: mesa-vulkan-drivers)\n");
        return 1;
    }
    printf("%s\n", why);
    /* conv.comp (GLOWCAM_VK_CONV=v1) on every case, without and with split-K */
    ctx->conv_v2 = 0, ctx->narrow = GLOW_VK_NARROW_OFF;
    for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++) {
        test_conv(ctx, &conv_cases[i], FP32_BOUND, "fp32");
        test_conv_k(ctx, &conv_cases[i], FP32_BOUND, "fp32 split-K", 1);
    }
    /* conv2.comp (GLOWCAM_VK_CONV=v2): the same cases, the same bound, without and with
     * split-K (taken by the cases with a long k loop) */
    ctx->conv_v2 = 1;
    for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
        test_conv(ctx, &conv_cases[i], FP32_BOUND, "fp32v2");
    for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
        test_conv_k(ctx, &conv_cases[i], FP32_BOUND, "fp32v2 split-K", 1);
    /* conv3n.comp (GLOWCAM_VK_NARROW=1, narrow 3x3), without and with split-K */
    ctx->narrow = GLOW_VK_NARROW_CONV3N;
    for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
        if (narrow_case(&conv_cases[i])) {
            test_conv(ctx, &conv_cases[i], FP32_BOUND, "fp32 narrow");
            test_conv_k(ctx, &conv_cases[i], FP32_BOUND, "fp32 narrow split-K", 1);
        }
    /* GLOWCAM_VK_NARROW=shift: the 1x1 GEMM of the 9 taps (split-K in the second pass) and
     * shift3.comp */
    ctx->narrow = GLOW_VK_NARROW_SHIFT;
    for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
        if (narrow_case(&conv_cases[i])) {
            test_conv(ctx, &conv_cases[i], FP32_BOUND, "fp32 shift");
            test_conv_k(ctx, &conv_cases[i], FP32_BOUND, "fp32 shift split-K", 1);
        }
    ctx->narrow = GLOW_VK_NARROW_OFF;
    test_pre_post(ctx, 1, 2, 5);
    test_pre_post(ctx, 3, 6, 8);
    test_pre_post(ctx, 2, 16, 5);
    test_pre_post(ctx, 1, 10, 1);
    test_squeeze(ctx, 1, 2, 2, 1, 1);
    test_squeeze(ctx, 2, 6, 10, 6, 12);
    test_squeeze(ctx, 3, 8, 4, 12, 24);
    for (int inv = 0; inv < 2; inv++) {
        test_coupling(ctx, 1, inv, 1, 1, 12, 0, 0);
        test_coupling(ctx, 1, inv, 3, 35, 24, 0, 0);
        test_coupling(ctx, 0, inv, 2, 17, 12, 0, 0);
        test_coupling(ctx, 0, inv, 2, 9, 48, 1, 1);
        test_coupling(ctx, 0, inv, 1, 5, 12, 1, 0);
        test_gauss(ctx, inv, 0, 1, 1, 6);
        test_gauss(ctx, inv, 0, 3, 13, 12);
        test_gauss(ctx, inv, 1, 2, 4, 24);
        test_gauss(ctx, inv, 1, 1, 9, 48);
    }
    glow_vk_ctx_free(&ctx);

    /* the fp16-operand convolution (tensor-core layout without tensor cores on lavapipe) */
    if (glow_vk_ctx_create(&ctx, -1, GLOW_VK_MMA_FP16, why, sizeof(why)) < 0)
        return 1;
    printf("%s\n", why);
    if (ctx->mma == GLOW_VK_MMA_FP32) {
        printf("FAIL: the device has no shaderFloat16, the fp16 path is untested\n");
        failures++;
    } else {
        ctx->cm_v2 = 0, ctx->narrow = GLOW_VK_NARROW_OFF; /* conv_cm.comp's layout on every case */
        for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
            test_conv(ctx, &conv_cases[i], FP16_BOUND, ctx->mma == GLOW_VK_MMA_COOPMAT ? "coopmat" : "fp16");
        /* conv_cm.comp with split-K (taken by the cases with a small grid and a long k loop) */
        for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
            test_conv_k(ctx, &conv_cases[i], FP16_BOUND, ctx->mma == GLOW_VK_MMA_COOPMAT ? "coopmat split-K" : "fp16 split-K",
                        1);
        /* conv_cm2.comp's layout (GLOWCAM_VK_CM=v2): the cases it takes, cout > 64 */
        ctx->cm_v2 = 1;
        for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
            if (conv_cases[i].cout > 64)
                test_conv_k(ctx, &conv_cases[i], FP16_BOUND, ctx->mma == GLOW_VK_MMA_COOPMAT ? "coopmat2" : "fp16v2",
                            1);
        /* ... and leaves the others to conv2.comp in fp32: the fp32 bound, which fp16 operands miss */
        for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
            if (conv_cases[i].cout <= 64)
                test_conv_k(ctx, &conv_cases[i], FP32_BOUND, "fp16v2 narrow in fp32", 1);
    }
    glow_vk_ctx_free(&ctx);

    /* tensor cores through VK_NV_cooperative_matrix, where the device has them */
    if (glow_vk_ctx_create(&ctx, -1, GLOW_VK_MMA_COOPMAT, why, sizeof(why)) < 0)
        return 1;
    if (ctx->mma == GLOW_VK_MMA_COOPMAT) {
        printf("%s (%ux%ux%u)\n", why, ctx->cm_m, ctx->cm_n, ctx->cm_k);
        ctx->cm_v2 = 0, ctx->narrow = GLOW_VK_NARROW_OFF;
        for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++) {
            test_conv(ctx, &conv_cases[i], FP16_BOUND, "coopmat");
            test_conv_k(ctx, &conv_cases[i], FP16_BOUND, "coopmat split-K", 1);
        }
        ctx->cm_v2 = 1; /* conv_cm2.comp on tensor cores */
        for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
            if (conv_cases[i].cout > 64)
                test_conv_k(ctx, &conv_cases[i], FP16_BOUND, "coopmat2", 1);
            else
                test_conv_k(ctx, &conv_cases[i], FP32_BOUND, "coopmat2 narrow in fp32", 1);
    } else {
        printf("coopmat: this device has no VK_NV_cooperative_matrix; the fp16 pass above ran its tile layout\n");
    }
    glow_vk_ctx_free(&ctx);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
