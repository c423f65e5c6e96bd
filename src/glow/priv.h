/* Internal to src/glow: the resolved model and the backend ops table. */
#ifndef GLOW_PRIV_H
#define GLOW_PRIV_H

#include "common/gc.h"
#include "glow/glow.h"

/* One coupling network: conv1 3x3 -> actnorm -> ReLU, conv2 1x1 -> actnorm -> ReLU,
 * conv3 3x3 -> (conv + bias) * exp(logscale). Weights [out][in][kh][kw]. */
struct glow_nn {
    int cin, cin_pad;  /* C/2, and C/2+1 with edge padding */
    int width, width_pad; /* width, and width+1 with edge padding (conv3's input) */
    int cout;          /* C (affine: shift/scale interleaved) or C/2 (additive) */
    const float *w1, *an1_bias, *an1_logs; /* w1 [width][cin_pad][3][3] */
    const float *w2, *an2_bias, *an2_logs; /* w2 [width][width] */
    const float *w3, *b3, *logs3;          /* w3 [cout][width_pad][3][3] */
};

struct glow_step {
    const float *an_bias, *an_logs; /* [C] */
    const float *invconv;           /* [C][C], y[o] = sum_i W[o][i] x[i] */
    struct glow_nn nn;
    const float *ybias;  /* [C/2] or NULL (additive only) */
    const float *yscale; /* [C/2] or NULL (additive only) */
};

struct glow_level {
    int h, w, c;          /* shape inside the level, after its squeeze */
    struct glow_step *steps; /* depth of them */
    const float *post_an_bias, *post_an_logs, *post_invconv; /* level_post only, else NULL */
    /* split prior, levels 0..L-2: conv [C][C/2(+1)][3][3], h = (conv + b) * exp(logs) */
    const float *prior_w, *prior_b, *prior_logs;
    int prior_cin_pad;
    size_t eps_offset, eps_count; /* where this level's eps lives in the latent */
};

struct glow_model {
    struct glow_config cfg;
    char *path;
    char sha256[65];
    glow_st *st;    /* the opened file: owns the bytes the tensor pointers below point into */
    uint8_t *file;  /* the whole file; tensors point into it (aligned copies if needed) */
    size_t file_size;
    float *aligned; /* float copy of the tensor data region (the file's data may be misaligned) */
    struct glow_level levels[GLOW_MAX_LEVELS];
    const float *top_mean, *top_logs; /* [H][W][C] of the last level */
    size_t latent_size;
};

/* A backend: functions static in its file, reached through this table. */
struct glow_backend_ops {
    const char *name;
    /* returns 0 and fills *state, or a negative code (with a message logged) */
    int (*create)(void **state, const glow_model *m, const struct glow_params *p, char *describe, size_t describe_size);
    int (*encode)(void *state, const uint8_t *images, int n, float *latents, double *bpd);
    int (*decode)(void *state, const float *latents, int n, uint8_t *images);
    void (*destroy)(void *state);
};

extern const struct glow_backend_ops glow_ref_ops;
extern const struct glow_backend_ops glow_blas_ops;   /* when built with OpenBLAS */
extern const struct glow_backend_ops glow_vk_ops;     /* when built with Vulkan */

/* Vulkan probing for backend AUTO: 1 if a real (non-CPU) GPU exists, 0 if not. */
int glow_vk_has_real_gpu(void);

/* Shared helpers the backends use so that every path agrees bit for bit on them. */
static inline float glow_preprocess(uint8_t v, int n_bits)
{
    const int shift = 8 - n_bits;
    const float bins = (float)(1 << n_bits);
    return (float)(v >> shift) / bins - 0.5f + 1.0f / (2.0f * bins);
}
uint8_t glow_postprocess(float x, int n_bits);

/* Double-precision inverse of a C x C matrix (row-major); -EINVAL if singular. */
int glow_invert_matrix(const float *w, int c, double *inv_out);
/* log|det W| in double precision (-INFINITY if singular). */
double glow_log_abs_det(const float *w, int c);
/* Same for a double matrix, which is overwritten (its LU factors). */
double glow_log_abs_det_f64(double *a, int c);

/* The reference flow on one preprocessed image x (image_size^2*3 doubles, HWC), all in
 * double: eps (latent layout), log-determinant and log p(z) in nats. For tests. */
int glow_ref_flow_f64(const glow_model *m, const double *x, double *eps, double *logdet, double *logp);

#endif
