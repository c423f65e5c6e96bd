/* The OpenBLAS backend's extras for the benchmark (src/glow only; the backend itself is
 * reached through glow_blas_ops in priv.h).
 *
 *   glow_blas_profile_reset(1);           // start timing op classes (process-wide)
 *   glow_encode(e, rgb, n, z, NULL);
 *   double t[GLOW_BLAS_PROF_N];
 *   glow_blas_profile_get(t);             // seconds per class since the reset
 *
 * Timing costs two clock reads per op (a few hundred per encode): leave it off outside
 * benchmarks. */
#ifndef GLOW_BLAS_H
#define GLOW_BLAS_H

#include "glow/glow.h"

enum glow_blas_prof {
    GLOW_BLAS_PROF_CONV3_GEMM, /* 3x3 convs: conv1, conv3, split prior (the GEMM part) */
    GLOW_BLAS_PROF_CONV1_GEMM, /* 1x1 conv2 */
    GLOW_BLAS_PROF_INVCONV,    /* actnorm folded into invconv (small GEMMs) */
    GLOW_BLAS_PROF_IM2COL,     /* im2col for conv1 and the priors */
    GLOW_BLAS_PROF_TAPSUM,     /* conv3's 9-tap shifted sum fused with the coupling */
    GLOW_BLAS_PROF_RELU,       /* bias + ReLU after conv1 and conv2 */
    GLOW_BLAS_PROF_OTHER,      /* pre/postprocess, squeeze, split priors' eps, top prior */
    GLOW_BLAS_PROF_N
};
extern const char *const glow_blas_prof_names[GLOW_BLAS_PROF_N];

void glow_blas_profile_reset(int enable);
void glow_blas_profile_get(double seconds[GLOW_BLAS_PROF_N]);

/* One GEMM shape of an encode: C[m][n] = A[m][k] B[k][n] (B stored [n][k] when
 * trans_b), done `count` times. */
struct glow_blas_shape {
    int m, n, k, trans_b, count;
    enum glow_blas_prof cls;
};
/* The GEMM shapes one encode of `batch` faces runs (distinct shapes, with counts);
 * returns how many were written (at most max). With 2+ threads a batch of 2+ faces
 * is split in halves run by two threads: pass the half. */
int glow_blas_gemm_shapes(const glow_model *m, int batch, struct glow_blas_shape *out, int max);
/* OpenBLAS's own sgemm rate on one shape with `threads` OpenBLAS threads, in GFLOP/s,
 * timed for about `seconds` (call after an engine was created, between its calls). */
double glow_blas_sgemm_gflops(int m, int n, int k, int trans_b, int threads, double seconds);
/* "OpenBLAS SkylakeX kernels" (the kernels OpenBLAS runs, after the backend's fix-up) */
const char *glow_blas_info(void);

#endif
