/* Recording of each shader's dispatch: push constants, grid, pipeline choice. */
#include <string.h>

#include "glow/vk_priv.h"

/* must match the shaders: 256 invocations per elementwise workgroup (common.glsl) */
#define GROUP 256u
/* split-K (every conv kernel): aim for this many workgroups, with splits of at
 * least this many k tiles (a guess for a 132-SM GPU until a profile says better) */
#define SPLITK_GRID 256u
#define SPLITK_MIN_TILES 8u
/* conv3n.comp: 16 x 32 output tiles, 8 output channels and 8 input channels a step per
 * workgroup of 128; split the input channels (at least NARROW_MIN_STEPS steps each) while
 * the grid has fewer than ctx->narrow_grid workgroups (default 528: 4 per SM of a 132-SM GPU) */
#define NARROW_TH 16u
#define NARROW_TW 32u
#define NARROW_CO 8u
#define NARROW_CC 8u
#define NARROW_MIN_STEPS 4u

static void grid1d(uint64_t total, uint32_t *x, uint32_t *y)
{
    uint64_t groups = (total + GROUP - 1) / GROUP;
    if (!groups)
        groups = 1;
    *x = groups > 65535 ? 65535 : (uint32_t)groups;
    *y = (uint32_t)((groups + *x - 1) / *x);
}

static int dispatch(struct glow_vk_ctx *ctx, VkCommandBuffer cb, enum glow_vk_shader sh, const uint32_t *spec, int nspec,
                    const void *pc, size_t pc_size, uint32_t x, uint32_t y, uint32_t z)
{
    VkPipeline p = glow_vk_pipeline(ctx, sh, spec, nspec);
    if (!p)
        return -EIO;
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    vkCmdPushConstants(cb, ctx->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t)pc_size, pc);
    vkCmdDispatch(cb, x, y, z);
    return 0;
}

void glow_vk_rec_barrier(VkCommandBuffer cb)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0,
                         NULL);
}

int glow_vk_conv_cin_pad(int cin, int edge) { return (cin + (edge ? 1 : 0) + 3) & ~3; }

void glow_vk_conv_pack(const float *w, int cout, int cin_file, int ks, int edge, float *dst)
{
    const int cin_pad = glow_vk_conv_cin_pad(cin_file - (edge ? 1 : 0), edge);
    const int taps = ks * ks;
    memset(dst, 0, sizeof(float) * (size_t)taps * cin_pad * cout);
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin_file; i++)
            for (int t = 0; t < taps; t++)
                dst[((size_t)t * cin_pad + i) * cout + o] = w[((size_t)o * cin_file + i) * taps + t];
}

/* rows: the 1x1 convolution's padded input channels, as glow_vk_rec_conv pads them */
size_t glow_vk_conv_shift_floats(int cin, int cout) { return (size_t)glow_vk_conv_cin_pad(cin, 0) * 9 * cout; }

void glow_vk_conv_pack_shift(const float *w, int cout, int cin, int cin_file, float *dst)
{
    const size_t n = (size_t)9 * cout;
    memset(dst, 0, sizeof(float) * glow_vk_conv_shift_floats(cin, cout));
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int t = 0; t < 9; t++)
                dst[(size_t)i * n + (size_t)t * cout + o] = w[((size_t)o * cin_file + i) * 9 + t];
}

/* Records pc's convolution on `sh` over x * y * z workgroups, or with `splits` > 1 (z
 * counting splits * zz) its raw partial sums into c->scratch, then splitk.comp's sum and
 * epilogue into the destination. */
static int dispatch_split(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_conv *c,
                          enum glow_vk_shader sh, const uint32_t *spec, int nspec, const struct glow_vk_pc_conv *pc,
                          uint32_t splits, uint32_t x, uint32_t y, uint32_t zz)
{
    if (splits < 2)
        return dispatch(ctx, cb, sh, spec, nspec, pc, sizeof(*pc), x, y, zz);
    struct glow_vk_pc_conv part = *pc;
    part.dst = c->scratch;
    part.dst_stride = pc->cout;
    part.dst_off = 0;
    part.flags = (pc->flags & (GLOW_VK_CONV_VEC4 | GLOW_VK_CONV_WVEC4 | GLOW_VK_CONV_KS3 | GLOW_VK_CONV_EDGE)) |
                 (splits - 1) << GLOW_VK_CONV_SPLIT_SHIFT;
    if (c->scratch % 16 == 0 && pc->cout % 4 == 0)
        part.flags |= GLOW_VK_CONV_DVEC4;
    int r = dispatch(ctx, cb, sh, spec, nspec, &part, sizeof(part), x, y, zz * splits);
    if (r < 0)
        return r;
    glow_vk_rec_barrier(cb);
    struct glow_vk_pc_conv red = *pc;
    red.src = c->scratch;
    red.flags |= (splits - 1) << GLOW_VK_CONV_SPLIT_SHIFT;
    uint32_t gx, gy;
    grid1d((uint64_t)pc->M * pc->cout, &gx, &gy);
    return dispatch(ctx, cb, GLOW_VK_SH_SPLITK, NULL, 0, &red, sizeof(red), gx, gy, 1);
}

/* Split-K: a grid of `grid` workgroups, below `target`, over a k loop of `steps` also splits
 * along k into splits of at least `min_steps` steps (at most 256, and as many as the scratch
 * holds of `out` partial sums each); 1 = no split. */
static uint32_t choose_splits(const struct glow_vk_ctx *ctx, const struct glow_vk_conv *c, uint64_t grid,
                              uint32_t target, uint32_t steps, uint32_t min_steps, uint64_t out)
{
    if (!c->scratch || !ctx->splitk || grid >= target || steps < 2 * min_steps)
        return 1;
    uint32_t splits = target / (uint32_t)grid;
    if (splits > steps / min_steps)
        splits = steps / min_steps;
    if (splits > 256)
        splits = 256;
    if ((uint64_t)splits * out > (uint64_t)c->scratch_floats)
        splits = (uint32_t)(c->scratch_floats / out);
    return splits ? splits : 1;
}

/* GLOWCAM_VK_NARROW=shift: the 1x1 GEMM of all 9 taps (9 cout outputs: tiles it fills) into
 * c->spare, then shift3.comp's sum of each output's 9 neighbours with the epilogue. 1 if
 * recorded (r: its result), 0 without the packed weights or room for the products. */
static int rec_conv_shift(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_conv *c,
                          const struct glow_vk_pc_conv *pc, int *r)
{
    if (!c->shift_w || !c->spare || c->spare_floats < (size_t)pc->M * 9 * c->cout)
        return 0;
    const struct glow_vk_conv taps = {
        .ks = 1, .n = c->n, .h = c->h, .w = c->w, .cin = c->cin, .src_stride = c->src_stride, .src_off = c->src_off,
        .cout = 9 * c->cout, .dst_stride = 9 * c->cout, .src = c->src, .weights = c->shift_w, .dst = c->spare,
        .scratch = c->scratch, .scratch_floats = c->scratch_floats};
    gc_log(GC_LOG_DEBUG, "vulkan: narrow conv 3x3 M %u cin %d cout %d: 1x1 GEMM to %d tap products + shift3",
           pc->M, c->cin, c->cout, 9 * c->cout);
    if ((*r = glow_vk_rec_conv(ctx, cb, &taps)) < 0)
        return 1;
    glow_vk_rec_barrier(cb);
    struct glow_vk_pc_conv sum = *pc;
    sum.src = c->spare;
    uint32_t x, y;
    grid1d((uint64_t)pc->M * pc->cout, &x, &y);
    *r = dispatch(ctx, cb, GLOW_VK_SH_SHIFT3, NULL, 0, &sum, sizeof(sum), x, y, 1);
    return 1;
}

/* A 3x3 convolution with few output channels on an image of at least 16 x 16, where
 * GLOWCAM_VK_NARROW asks: on conv3n.comp or as a 1x1 GEMM + shift3.comp. 1 if recorded (r:
 * its result), 0 if the convolution is not one for them. */
static int rec_conv_narrow(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_conv *c,
                           const struct glow_vk_pc_conv *pc, int *r)
{
    if (!ctx->narrow || c->ks != 3 || c->cout > GLOW_VK_NARROW_MAX_COUT || c->h < 16 || c->w < 16)
        return 0;
    if (ctx->narrow == GLOW_VK_NARROW_SHIFT)
        return rec_conv_shift(ctx, cb, c, pc, r);
    const uint64_t tiles = (uint64_t)c->n * ((c->h + NARROW_TH - 1) / NARROW_TH) * ((c->w + NARROW_TW - 1) / NARROW_TW);
    const uint32_t groups = (uint32_t)(c->cout + NARROW_CO - 1) / NARROW_CO;
    if (tiles > 65535)
        return 0;
    const uint32_t steps = (pc->cin_pad + NARROW_CC - 1) / NARROW_CC;
    const uint32_t splits = choose_splits(ctx, c, tiles * groups, ctx->narrow_grid, steps, NARROW_MIN_STEPS,
                                          (uint64_t)pc->M * pc->cout);
    gc_log(GC_LOG_DEBUG, "vulkan: narrow conv 3x3 M %u cin %d cout %d: %u tiles x %u channel groups, %u split(s)",
           pc->M, c->cin, c->cout, (unsigned)tiles, groups, splits);
    *r = dispatch_split(ctx, cb, c, GLOW_VK_SH_CONV3N, NULL, 0, pc, splits, (uint32_t)tiles, groups, 1);
    return 1;
}

int glow_vk_rec_conv(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_conv *c)
{
    const int edge = c->ks == 3 && c->edge;
    struct glow_vk_pc_conv pc = {
        .src = c->src, .w = c->weights, .bias = c->bias, .scale = c->scale, .dst = c->dst,
        .M = (uint32_t)(c->n * c->h * c->w), .H = (uint32_t)c->h, .W = (uint32_t)c->w, .cin = (uint32_t)c->cin,
        .cin_pad = (uint32_t)glow_vk_conv_cin_pad(c->cin, edge), .src_stride = (uint32_t)c->src_stride,
        .src_off = (uint32_t)c->src_off, .cout = (uint32_t)c->cout, .dst_stride = (uint32_t)c->dst_stride,
        .dst_off = (uint32_t)c->dst_off};
    pc.flags = (c->bias ? GLOW_VK_CONV_BIAS : 0) | (c->scale ? GLOW_VK_CONV_SCALE : 0) | (c->relu ? GLOW_VK_CONV_RELU : 0);
    if (c->src % 16 == 0 && c->src_stride % 4 == 0 && c->src_off % 4 == 0)
        pc.flags |= GLOW_VK_CONV_VEC4;
    if (c->weights % 16 == 0 && c->cout % 4 == 0)
        pc.flags |= GLOW_VK_CONV_WVEC4;
    if (c->dst % 16 == 0 && c->dst_stride % 4 == 0 && c->dst_off % 4 == 0)
        pc.flags |= GLOW_VK_CONV_DVEC4;
    pc.flags |= (c->ks == 3 ? GLOW_VK_CONV_KS3 : 0) | (edge ? GLOW_VK_CONV_EDGE : 0);
    int narrow_r;
    if (rec_conv_narrow(ctx, cb, c, &pc, &narrow_r))
        return narrow_r;
    /* tile shapes: must match conv.comp (BM 128, BN 16|64|128) and conv_cm.comp (BM 128,
     * VARIANT 1|0|2 = BN 16|64|128) */
    const int variant = c->cout <= 24 ? 1 : c->cout <= 96 ? 0 : 2;
    uint32_t bm = 128, bn = variant == 1 ? 16 : variant == 0 ? 64 : 128, bk = 16; /* bk: conv.comp's BK */
    enum glow_vk_shader sh = GLOW_VK_SH_CONV;
    uint32_t spec[4] = {(uint32_t)c->ks, (uint32_t)edge, bn, 0};
    int nspec = 4;
    /* fp16 only where it measured faster: with the v2 kernels, the convolutions of cout <= 64
     * (the narrow 3x3 "zero" convolutions, the small 1x1 ones) stay on conv2.comp in fp32. On
     * an H100 (OpenAI 256x256, batch 8) conv_cm.comp took 114.5 ms per encode call over the
     * narrow 3x3 ones, conv2.comp 74.7 ms */
    const int fp16 = ctx->mma != GLOW_VK_MMA_FP32 && !(ctx->cm_v2 && ctx->conv_v2 && c->cout <= 64);
    if (fp16) {
        sh = ctx->mma == GLOW_VK_MMA_COOPMAT ? GLOW_VK_SH_CONV_CM : GLOW_VK_SH_CONV_H;
        spec[2] = (uint32_t)variant;
        spec[3] = ctx->mma == GLOW_VK_MMA_COOPMAT ? ctx->cm_n : 16;
        bk = 32; /* conv_cm.comp's BK */
        /* conv_cm2.comp: 128 x 128, KS and EDGE in the flags, cooperative-matrix N 16 */
        if (ctx->cm_v2 && c->cout > 64 && (ctx->mma != GLOW_VK_MMA_COOPMAT || ctx->cm_n == 16)) {
            sh = ctx->mma == GLOW_VK_MMA_COOPMAT ? GLOW_VK_SH_CONV_CM2 : GLOW_VK_SH_CONV_H2;
            nspec = 0;
            bm = 128, bn = 128, bk = 32;
        }
    } else if (ctx->conv_v2) {
        /* must match the TILE shapes of conv2.comp (KS and EDGE in the flags) */
        nspec = 0;
        bk = 8;
        if (c->cout > 64)
            sh = GLOW_VK_SH_CONV2_T0, bm = 128, bn = 128;
        else if (c->cout > 32)
            sh = GLOW_VK_SH_CONV2_T1, bm = 128, bn = 64;
        else
            sh = GLOW_VK_SH_CONV2_T2, bm = 256, bn = 16;
    }
    uint32_t mt = (pc.M + bm - 1) / bm, nt = (pc.cout + bn - 1) / bn;
    uint32_t x = mt > 65535 ? 65535 : mt, z = (mt + x - 1) / x;
    pc.mtiles_x = x;
    /* split-K: a grid too small to fill a GPU with a long k loop (the deep levels) is also
     * split along k, each split at least SPLITK_MIN_TILES k tiles long; the raw partial sums
     * go to the scratch, then splitk.comp sums them with the epilogue into dst */
    const uint32_t nk = (uint32_t)((c->ks * c->ks * pc.cin_pad + bk - 1) / bk);
    uint32_t splits =
        choose_splits(ctx, c, (uint64_t)mt * nt, SPLITK_GRID, nk, SPLITK_MIN_TILES, (uint64_t)pc.M * pc.cout);
    if (splits * z > 65535)
        splits = 1;
    if (splits >= 2)
        gc_log(GC_LOG_DEBUG, "vulkan: conv %dx%d M %u cin %d cout %d: %u x %u tiles, k split %u ways (%u k tiles)",
               c->ks, c->ks, pc.M, c->cin, c->cout, mt, nt, splits, nk);
    return dispatch_split(ctx, cb, c, sh, spec, nspec, &pc, splits, x, nt, z);
}

struct pc_pre {
    VkDeviceAddress img, dst;
    uint32_t total, size, n_bits;
};

int glow_vk_rec_pre(struct glow_vk_ctx *ctx, VkCommandBuffer cb, VkDeviceAddress images, VkDeviceAddress dst, int n,
                    int size, int n_bits)
{
    struct pc_pre pc = {.img = images, .dst = dst, .total = (uint32_t)n * (size / 2) * (size / 2) * 12,
                        .size = (uint32_t)size, .n_bits = (uint32_t)n_bits};
    uint32_t x, y;
    grid1d(pc.total, &x, &y);
    return dispatch(ctx, cb, GLOW_VK_SH_PRE, NULL, 0, &pc, sizeof(pc), x, y, 1);
}

int glow_vk_rec_post(struct glow_vk_ctx *ctx, VkCommandBuffer cb, VkDeviceAddress src, VkDeviceAddress images, int n,
                     int size, int n_bits)
{
    struct pc_pre pc = {.img = src, .dst = images, .total = (uint32_t)n * size * size * 3, .size = (uint32_t)size,
                        .n_bits = (uint32_t)n_bits};
    uint32_t x, y;
    grid1d((pc.total + 3) / 4, &x, &y);
    return dispatch(ctx, cb, GLOW_VK_SH_POST, NULL, 0, &pc, sizeof(pc), x, y, 1);
}

struct pc_squeeze {
    VkDeviceAddress src, dst;
    uint32_t total, h, w, c, big_stride;
};

int glow_vk_rec_squeeze(struct glow_vk_ctx *ctx, VkCommandBuffer cb, int dir, VkDeviceAddress big, VkDeviceAddress small,
                        int n, int h, int w, int c, int big_stride)
{
    struct pc_squeeze pc = {.src = dir ? small : big, .dst = dir ? big : small,
                            .total = (uint32_t)n * (h / 2) * (w / 2) * 4 * c, .h = (uint32_t)h, .w = (uint32_t)w,
                            .c = (uint32_t)c, .big_stride = (uint32_t)big_stride};
    uint32_t x, y, spec = (uint32_t)dir;
    grid1d(pc.total, &x, &y);
    return dispatch(ctx, cb, GLOW_VK_SH_SQUEEZE, &spec, 1, &pc, sizeof(pc), x, y, 1);
}

struct pc_coupling {
    VkDeviceAddress x, h, ybias, yscale, ld;
    uint32_t npix, hw, c, ld_stride, flags;
};

int glow_vk_rec_coupling(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_coupling *c)
{
    struct pc_coupling pc = {.x = c->x, .h = c->h, .ybias = c->ybias, .yscale = c->yscale, .ld = c->ld,
                             .npix = (uint32_t)(c->n * c->hw), .hw = (uint32_t)c->hw, .c = (uint32_t)c->c,
                             .ld_stride = (uint32_t)c->ld_stride,
                             .flags = (c->ybias ? 1u : 0u) | (c->yscale ? 2u : 0u)};
    uint32_t spec[2] = {(uint32_t)!!c->affine, (uint32_t)!!c->inverse}, x, y;
    grid1d(pc.npix, &x, &y);
    return dispatch(ctx, cb, GLOW_VK_SH_COUPLING, spec, 2, &pc, sizeof(pc), x, y, 1);
}

struct pc_gauss {
    VkDeviceAddress x, h, lat, ld;
    uint32_t npix, hw, cx, xoff, c, h_bstride, lat_stride, lat_off, ld_stride;
};

int glow_vk_rec_gauss(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_gauss *g)
{
    struct pc_gauss pc = {.x = g->x, .h = g->h, .lat = g->lat, .ld = g->ld, .npix = (uint32_t)(g->n * g->hw),
                          .hw = (uint32_t)g->hw, .cx = (uint32_t)g->cx, .xoff = (uint32_t)g->xoff, .c = (uint32_t)g->c,
                          .h_bstride = (uint32_t)g->h_bstride, .lat_stride = (uint32_t)g->lat_stride,
                          .lat_off = (uint32_t)g->lat_off, .ld_stride = (uint32_t)g->ld_stride};
    uint32_t spec = (uint32_t)!!g->inverse, x, y;
    grid1d(pc.npix, &x, &y);
    return dispatch(ctx, cb, GLOW_VK_SH_GAUSS, &spec, 1, &pc, sizeof(pc), x, y, 1);
}
