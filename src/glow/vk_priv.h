/* Internal to the Vulkan backend (vk_ctx.c, vk_ops.c, vk.c) and its tests.
 *
 *   struct glow_vk_ctx *ctx;
 *   glow_vk_ctx_create(&ctx, -1, 0, why, sizeof(why));   // best device (or $GLOWCAM_DEVICE)
 *   struct glow_vk_buf b;
 *   glow_vk_buf_create(ctx, &b, bytes, 0);              // device-local, addressed by shaders
 *   VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
 *   glow_vk_rec_conv(ctx, cb, &conv);  glow_vk_rec_barrier(cb);
 *   glow_vk_cmd_end_wait(ctx, cb);                      // submits, waits, frees cb
 *
 * Shaders reach buffers through buffer device addresses in push constants (no
 * descriptor sets), so recording a dispatch is a push + dispatch. Every tensor is
 * float32 [pixels][channels] (NHWC), the batch outermost.
 */
#ifndef GLOW_VK_PRIV_H
#define GLOW_VK_PRIV_H

#include <vulkan/vulkan.h>

#include "glow/priv.h"

enum glow_vk_shader {
    GLOW_VK_SH_PRE,
    GLOW_VK_SH_POST,
    GLOW_VK_SH_SQUEEZE,
    GLOW_VK_SH_COUPLING,
    GLOW_VK_SH_GAUSS,
    GLOW_VK_SH_CONV,      /* fp32 */
    GLOW_VK_SH_CONV_H,    /* fp16 operands staged in shared memory, plain arithmetic */
    GLOW_VK_SH_CONV_CM,   /* fp16 operands on NV cooperative matrices */
    GLOW_VK_SH_CONV2_T0,  /* fp32, conv2.comp (the default): 128 x 128 tiles */
    GLOW_VK_SH_CONV2_T1,  /* 128 x 64 */
    GLOW_VK_SH_CONV2_T2,  /* 256 x 16 */
    GLOW_VK_SH_CONV_CM2,  /* conv_cm2.comp (fp16 default, cout > 64): 128 x 128 tiles, prefetch */
    GLOW_VK_SH_CONV_H2,   /* the same layout without tensor cores (EMULATE) */
    GLOW_VK_SH_CONV3N,    /* conv3n.comp: 3x3, few output channels, halo tiles in shared memory */
    GLOW_VK_SH_SHIFT3,    /* shift3.comp: the shift-and-add half of a narrow 3x3 done as a 1x1 GEMM */
    GLOW_VK_SH_SPLITK,    /* split-K sum + epilogue of the conv kernels */
    GLOW_VK_N_SHADERS
};

/* The matrix path of the convolutions. */
enum glow_vk_mma {
    GLOW_VK_MMA_FP32,   /* exact path, every device */
    GLOW_VK_MMA_FP16,   /* operands rounded to fp16, fp32 sums, no tensor cores (tests the layout on lavapipe) */
    GLOW_VK_MMA_COOPMAT /* operands rounded to fp16, VK_NV_cooperative_matrix, fp32 sums */
};

/* Where the 3x3 convolutions with few outputs go ($GLOWCAM_VK_NARROW): those with at most
 * this many outputs (the coupling's "zero" convolution, 2 x C / 2 for C up to 48) */
#define GLOW_VK_NARROW_MAX_COUT 48
enum glow_vk_narrow {
    GLOW_VK_NARROW_OFF,    /* with the others (conv2.comp by default) */
    GLOW_VK_NARROW_CONV3N, /* conv3n.comp: halo tiles in shared memory (=1) */
    GLOW_VK_NARROW_SHIFT   /* a 1x1 GEMM of all 9 taps, then shift3.comp (=shift) */
};

struct glow_vk_pipe_entry {
    int shader;
    uint32_t spec[4];
    VkPipeline pipe;
};

struct glow_vk_ctx {
    VkInstance inst;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    VkPipelineLayout layout;
    VkShaderModule modules[GLOW_VK_N_SHADERS];
    struct glow_vk_pipe_entry pipes[96];
    int npipes;
    VkCommandPool pool;
    VkFence fence;
    int index;          /* physical device index */
    int has_f16;        /* shaderFloat16 enabled */
    int has_coopmat;    /* VK_NV_cooperative_matrix with fp16 x fp16 + fp32 16x16x16 (or 16x8x16) */
    uint32_t cm_m, cm_n, cm_k;
    enum glow_vk_mma mma;
    int conv_v2;        /* fp32 convolutions on conv2.comp (default; $GLOWCAM_VK_CONV=v1: conv.comp) */
    int cm_v2;          /* fp16 convolutions with cout > 64 on conv_cm2.comp, the others in fp32 on conv2.comp
                           (default; $GLOWCAM_VK_CM=v1: all on conv_cm.comp) */
    int narrow;         /* 3x3 convolutions with cout <= GLOW_VK_NARROW_MAX_COUT: 0 as the others, GLOW_VK_NARROW_CONV3N
                           ($GLOWCAM_VK_NARROW=1) or GLOW_VK_NARROW_SHIFT ($GLOWCAM_VK_NARROW=shift) */
    unsigned narrow_grid; /* conv3n.comp splits input channels below this many workgroups ($GLOWCAM_VK_NARROW_GRID) */
    int splitk;         /* the conv kernels may split k on small grids ($GLOWCAM_VK_SPLITK=0: never) */
    uint32_t ts_bits;   /* the queue's timestampValidBits (0: no timestamps, no --profile) */
    double timestamp_ns; /* timestampPeriod */
};

struct glow_vk_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceAddress addr;
    VkDeviceSize size;
    void *map; /* non-NULL for host-visible buffers */
};

/* want_mma: the fastest allowed (FP32 for exact); the context lowers it to what the
 * device offers (COOPMAT -> FP16 without the extension, FP16 -> FP32 without shaderFloat16). */
int glow_vk_ctx_create(struct glow_vk_ctx **out, int device, enum glow_vk_mma want_mma, char *describe,
                       size_t describe_size);
void glow_vk_ctx_free(struct glow_vk_ctx **ctx);
const char *glow_vk_result_name(VkResult r);
const char *glow_vk_mma_name(enum glow_vk_mma m);

/* host_visible: mapped, coherent (for uploads and read-back); else device-local. */
int glow_vk_buf_create(struct glow_vk_ctx *ctx, struct glow_vk_buf *b, VkDeviceSize size, int host_visible);
void glow_vk_buf_free(struct glow_vk_ctx *ctx, struct glow_vk_buf *b);
/* Copies through a temporary staging buffer (one submission each). */
int glow_vk_upload(struct glow_vk_ctx *ctx, struct glow_vk_buf *dst, VkDeviceSize off, const void *src, size_t n);
int glow_vk_download(struct glow_vk_ctx *ctx, struct glow_vk_buf *src, VkDeviceSize off, void *dst, size_t n);

VkCommandBuffer glow_vk_cmd_begin(struct glow_vk_ctx *ctx); /* NULL on failure (logged) */
int glow_vk_cmd_end_wait(struct glow_vk_ctx *ctx, VkCommandBuffer cb); /* frees cb */
/* Submits a recorded (reusable) command buffer and waits for it. */
int glow_vk_submit_wait(struct glow_vk_ctx *ctx, VkCommandBuffer cb);

/* A compute pipeline of a shader with up to 4 uint specialization constants (cached). */
VkPipeline glow_vk_pipeline(struct glow_vk_ctx *ctx, enum glow_vk_shader sh, const uint32_t *spec, int nspec);

/* ---- recording (vk_ops.c) ---- */

/* Push constants: must match shaders/conv_pc.glsl. */
enum {
    GLOW_VK_CONV_BIAS = 1, GLOW_VK_CONV_SCALE = 2, GLOW_VK_CONV_RELU = 4, GLOW_VK_CONV_VEC4 = 8,
    GLOW_VK_CONV_WVEC4 = 16, GLOW_VK_CONV_DVEC4 = 32, GLOW_VK_CONV_KS3 = 64, GLOW_VK_CONV_EDGE = 128, /* v2 kernels */
    GLOW_VK_CONV_SPLIT_SHIFT = 8 /* bits 8..15: split-K splits - 1 */
};
struct glow_vk_pc_conv {
    VkDeviceAddress src, w, bias, scale, dst;
    uint32_t M, H, W, cin, cin_pad, src_stride, src_off, cout, dst_stride, dst_off, flags, mtiles_x;
};
_Static_assert(sizeof(struct glow_vk_pc_conv) <= 128, "push constant limit");

/* One convolution: dst[m][dst_off + o] = epilogue(sum A * w). */
struct glow_vk_conv {
    int ks;        /* 1 or 3 */
    int edge;      /* 3x3 only: the extra input channel that is 1 outside the image */
    int n, h, w;   /* batch and image */
    int cin, src_stride, src_off;
    int cout, dst_stride, dst_off;
    VkDeviceAddress src, weights, bias, scale, dst; /* bias/scale 0 = none */
    int relu;
    VkDeviceAddress scratch; /* room for split-K partial sums (0: no split-K) */
    size_t scratch_floats;
    /* GLOWCAM_VK_NARROW=shift, 3x3 only: the weights packed for the 1x1 GEMM of every tap
     * (glow_vk_conv_pack_shift; 0: none) and a buffer free during this convolution for its
     * M x 9 cout products (0: none) */
    VkDeviceAddress shift_w, spare;
    size_t spare_floats;
};

/* Rows of the packed weight matrix: ks*ks*cin_pad, cin_pad = round_up(cin + edge, 4). */
int glow_vk_conv_cin_pad(int cin, int edge);
/* Packs PyTorch-layout weights w[cout][cin_file][ks][ks] (cin_file = cin + edge) into
 * dst[(tap * cin_pad + ci) * cout + o] (zeros in the padding rows). */
void glow_vk_conv_pack(const float *w, int cout, int cin_file, int ks, int edge, float *dst);
/* Packs a 3x3 convolution's weights w[cout][cin_file][3][3] for its 1x1 GEMM of every tap:
 * dst[ci * 9 cout + t * cout + o] for the cin real input channels (not the edge channel),
 * rows padded to round_up(cin, 4) with zeros. */
size_t glow_vk_conv_shift_floats(int cin, int cout);
void glow_vk_conv_pack_shift(const float *w, int cout, int cin, int cin_file, float *dst);

void glow_vk_rec_barrier(VkCommandBuffer cb);
int glow_vk_rec_conv(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_conv *c);
/* images: packed bytes; dst: level-0 tensor [n][s/2][s/2][12] */
int glow_vk_rec_pre(struct glow_vk_ctx *ctx, VkCommandBuffer cb, VkDeviceAddress images, VkDeviceAddress dst, int n,
                    int size, int n_bits);
int glow_vk_rec_post(struct glow_vk_ctx *ctx, VkCommandBuffer cb, VkDeviceAddress src, VkDeviceAddress images, int n,
                     int size, int n_bits);
/* dir 0: squeeze the first c channels of big [n][h][w][big_stride] into small [n][h/2][w/2][4c]; 1: back */
int glow_vk_rec_squeeze(struct glow_vk_ctx *ctx, VkCommandBuffer cb, int dir, VkDeviceAddress big, VkDeviceAddress small,
                        int n, int h, int w, int c, int big_stride);
struct glow_vk_coupling {
    int affine, inverse;
    int n, hw, c;
    VkDeviceAddress x, h, ybias, yscale, ld; /* ybias/yscale 0 = none */
    int ld_stride;
};
int glow_vk_rec_coupling(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_coupling *c);
struct glow_vk_gauss {
    int inverse;
    int n, hw;
    int cx, xoff, c;
    VkDeviceAddress x, h, lat, ld;
    int h_bstride, lat_stride, lat_off, ld_stride;
};
int glow_vk_rec_gauss(struct glow_vk_ctx *ctx, VkCommandBuffer cb, const struct glow_vk_gauss *g);

/* ---- GPU profile (vk.c): a timestamp after every recorded command (bench --profile, tests) ----
 * glow_vk_profile_enable(1) clears the table; until glow_vk_profile_enable(0), every Vulkan
 * encode/decode submits a separately recorded command buffer with timestamps (the normal
 * recorded buffers stay as they are) and adds each command's GPU time to the table, keyed by
 * direction, op class and shape. Process-wide and not thread-safe: for benchmarks and tests. */
enum glow_vk_prof_class {
    GLOW_VK_PROF_FOLD,     /* 1x1 C -> C: actnorm + invconv folded (and level_post) */
    GLOW_VK_PROF_CONV1,    /* 3x3 C/2 (+edge) -> width, actnorm, ReLU */
    GLOW_VK_PROF_CONV2,    /* 1x1 width -> width, actnorm, ReLU */
    GLOW_VK_PROF_CONV3,    /* 3x3 width (+edge) -> C (affine) or C/2 (additive) */
    GLOW_VK_PROF_PRIOR,    /* 3x3 split prior C/2 (+edge) -> C */
    GLOW_VK_PROF_COUPLING, /* coupling update */
    GLOW_VK_PROF_GAUSS,    /* split and top priors: eps or z, log-density */
    GLOW_VK_PROF_SQUEEZE,  /* squeeze between levels */
    GLOW_VK_PROF_PREPOST,  /* preprocess / postprocess */
    GLOW_VK_PROF_COPY,     /* copies between the host-visible buffer and the arena, fills */
    GLOW_VK_PROF_N
};
extern const char *const glow_vk_prof_names[GLOW_VK_PROF_N];
struct glow_vk_prof_entry {
    int dir;           /* 0 encode, 1 decode */
    int cls;           /* enum glow_vk_prof_class */
    int ks, cin, cout; /* convolutions (cin counts the edge channel), else 0 */
    long m;            /* pixels of the batch (convolutions), else 0 */
    long calls;        /* commands summed */
    double ms;         /* their GPU time, summed */
    double flop;       /* 2 * multiply-adds, summed (convolutions) */
};
struct glow_vk_prof_total {
    int submissions;   /* profiled submissions */
    long commands;     /* timed commands, summed */
    double gpu_ms;     /* first to last timestamp, summed */
    double wall_ms;    /* host time of submit + wait, summed */
};
void glow_vk_profile_enable(int on);
/* The table so far (valid until the next enable(1)); returns its length. */
int glow_vk_profile_entries(const struct glow_vk_prof_entry **e);
void glow_vk_profile_total(int dir, struct glow_vk_prof_total *t);
/* 1 when a device without timestamps on its compute queue was asked to profile. */
int glow_vk_profile_unsupported(void);

#endif
