/* The CPU backend: the whole model, both directions, on OpenBLAS's sgemm.
 *
 * Layout: pixel-major with the batch folded into the pixel dimension, z[p][c] with
 * p = (img*H + y)*W + x, so every convolution is one GEMM of M = n*H*W rows.
 * - actnorm + invconv: folded at create time into one [C][C] matrix and a bias
 *   (the inverse, computed in double, folds the inverse actnorm the same way).
 * - conv1 (3x3, C/2 -> width): im2col (the edge-padding channel written into the
 *   columns as a 1 outside the image) and one GEMM; the actnorm scale is folded into
 *   the weights, its bias and the ReLU are one pass.
 * - conv2 (1x1): one GEMM, the same folding.
 * - conv3 (3x3, width -> few channels): one GEMM W[9*cout][width] x h2^T gives every
 *   tap's contribution per pixel, channel-major; a pass sums the 9 shifted taps over
 *   contiguous runs (the padding channel's weights added where a tap falls outside)
 *   and then applies the coupling. Its input is 10-40x wider than its output, so this
 *   is far cheaper than an im2col of width*9 columns.
 * - the coupling network runs in chunks of pixels so the hidden activations stay in
 *   the L2 caches between the GEMMs and the bias+ReLU passes.
 * - split priors: im2col + GEMM like conv1.
 * Affine outputs (shift/scale) and prior outputs (mean/logs) are de-interleaved by
 * permuting the weights, so the element-wise loops run over contiguous halves.
 *
 * Threads, one policy at a time: a batch of 2+ faces is split in two halves run by
 * this thread and one worker, each calling single-threaded OpenBLAS (one hand-off per
 * call, element-wise passes in parallel, no per-GEMM barrier to stall on a busy
 * machine); a single face uses OpenBLAS's own threads (openblas_set_num_threads).
 * Activations live in one arena per half, allocated at create time for max_batch faces.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "glow/blas.h"
#include "glow/priv.h"

/* The element-wise passes in AVX2 and AVX-512 variants too, picked at load time (the
 * build's baseline is x86-64-v2). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BLAS_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BLAS_VEC
#endif

/* ---- profiling (benchmark only) ------------------------------------------------------ */

const char *const glow_blas_prof_names[GLOW_BLAS_PROF_N] = {
    "3x3 conv GEMMs", "1x1 conv GEMMs", "invconv GEMMs", "im2col", "conv3 tap sum + coupling",
    "bias + ReLU", "pre/post, squeeze, priors",
};
static int g_prof_on;
static double g_prof[2][GLOW_BLAS_PROF_N]; /* per thread of the batch split */
static _Thread_local int t_slot;           /* 1 on the batch-split worker thread */

void glow_blas_profile_reset(int enable)
{
    g_prof_on = enable;
    memset(g_prof, 0, sizeof(g_prof));
}

void glow_blas_profile_get(double seconds[GLOW_BLAS_PROF_N])
{
    for (int c = 0; c < GLOW_BLAS_PROF_N; c++)
        seconds[c] = g_prof[0][c] + g_prof[1][c];
}

static inline double prof_start(void) { return g_prof_on ? gc_time() : 0.0; }
static inline void prof_end(enum glow_blas_prof c, double t0)
{
    if (g_prof_on)
        g_prof[t_slot][c] += gc_time() - t0;
}

/* ---- OpenBLAS set-up ----------------------------------------------------------------- */

/* OpenBLAS 0.3.21's DYNAMIC_ARCH build picks its kernels from the CPU model number and
 * falls back to Prescott (SSE3) on models it does not know, e.g. recent Xeons under KVM:
 * sgemm runs 5x slower (32 instead of 170 GFLOP/s here). Where the CPU has AVX-512 or
 * AVX2 and the user set no OPENBLAS_CORETYPE, re-run OpenBLAS's own kernel selection
 * with the matching core type. Weak symbols: a non-dynamic OpenBLAS lacks them. */
extern void *gotoblas __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));

static char g_blas_info[160];
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

static int corename_is_old(const char *name)
{
    static const char *const old[] = {"Prescott", "Core2",  "Penryn",   "Dunnington", "Nehalem",
                                      "Atom",     "Nano",   "Katmai",   "Coppermine", "Northwood",
                                      "Banias",   "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat",
                                      "Sandybridge", "Unknown"};
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
        if (!strcasecmp(name, old[i]))
            return 1;
    return 0;
}

static void blas_fix_coretype(void)
{
#if defined(__x86_64__) || defined(__i386__)
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || !core || !corename_is_old(core) || !&gotoblas || !gotoblas_dynamic_init)
        return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want)
        return;
    char was[64];
    snprintf(was, sizeof(was), "%s", core);
    gotoblas = NULL;
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    const char *now = openblas_get_corename();
    if (now && corename_is_old(now))
        gc_log(GC_LOG_WARN, "OpenBLAS uses its slow %s kernels on this CPU; set OPENBLAS_CORETYPE=%s", now, want);
    else
        gc_log(GC_LOG_VERBOSE, "OpenBLAS chose %s kernels for this CPU (a model it does not know); using its %s kernels",
               was, now);
#endif
}

static void blas_once(void) { blas_fix_coretype(); }

const char *glow_blas_info(void) { return g_blas_info; }

/* ---- the resolved model -------------------------------------------------------------- */

struct blas_lin { /* y = x B + bias, B [C][C] */
    float *w, *b;
};

struct blas_col_conv { /* 3x3 conv through im2col: B [kp][cout] */
    int cin, cin_pad, cout;
    int kp; /* 9*cin_pad rounded up to 8 (zero rows): 63 -> 64 suits the GEMM kernels */
    float *w, *b;
};

struct blas_tap_conv { /* 3x3 conv as one GEMM to 9 taps + shifted sum: A [9*cout][cin] */
    int cin, cout;
    float *w, *b;
    float *edge; /* [9][cout] the padding channel's weight per tap, or NULL */
};

struct blas_step {
    struct blas_lin fwd, inv;
    struct blas_col_conv c1;
    float *w2, *b2; /* [width][width], [width] */
    struct blas_tap_conv c3;
    const float *ybias, *yscale;
};

struct blas_level {
    int h, w, c, half;
    struct blas_step *steps;
    int has_post;
    struct blas_lin post_fwd, post_inv;
    int has_prior;
    struct blas_col_conv prior;
    size_t eps_offset;
    double logdet_const; /* per image: actnorms, invconvs, additive yscales */
};

/* The activations of one part of a batch (one arena each). */
struct blas_work {
    int max_n; /* images it is sized for */
    int chunk; /* pixels per pass through the coupling network */
    float *arena;
    float *za, *zb, *col, *apad, *h1, *h2, *taps, *hp, *acc, *tt;
    double *ld, *lp;
    size_t bytes;
};

/* A batch of n >= 2 is split in two halves encoded/decoded by two threads (this one and
 * a worker), each calling single-threaded OpenBLAS: one hand-off per call instead of a
 * thread barrier in every GEMM, and the element-wise passes run in parallel too. A
 * single face uses OpenBLAS's threads instead. Never both at once. */
struct blas_job {
    int dir; /* 1 encode, -1 decode */
    const uint8_t *images;
    const float *latents;
    int n;
    float *lat_out;
    uint8_t *img_out;
    double *bpd;
    int ret;
};

struct blas_state {
    const glow_model *m;
    struct glow_config cfg;
    int max_batch, threads;
    int post_bits; /* decode's postprocess bits */
    struct blas_level lv[GLOW_MAX_LEVELS];
    float pre_lut[256];
    /* weights: every folded tensor is one allocation recorded here */
    void **allocs;
    int n_allocs, cap_allocs;
    struct blas_work work[2];
    int split; /* 1 when the worker thread exists */
    pthread_t worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, done, quit;
    struct blas_job job;
};

static float *st_alloc(struct blas_state *st, size_t nfloats)
{
    if (st->n_allocs == st->cap_allocs) {
        int cap = st->cap_allocs ? st->cap_allocs * 2 : 64;
        void **a = realloc(st->allocs, cap * sizeof(*a));
        if (!a)
            return NULL;
        st->allocs = a;
        st->cap_allocs = cap;
    }
    size_t bytes = (nfloats * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        st->allocs[st->n_allocs++] = p;
    return p;
}

/* actnorm (x + b) * exp(logs) then invconv W: y = x B + bias with B[i][o] = W[o][i] s[i]. */
static int fold_lin(struct blas_state *st, const float *an_b, const float *an_logs, const float *w, int c,
                    struct blas_lin *fwd, struct blas_lin *inv)
{
    fwd->w = st_alloc(st, (size_t)c * c);
    fwd->b = st_alloc(st, c);
    inv->w = st_alloc(st, (size_t)c * c);
    inv->b = st_alloc(st, c);
    double *winv = malloc(sizeof(double) * c * c);
    if (!fwd->w || !fwd->b || !inv->w || !inv->b || !winv) {
        free(winv);
        return -ENOMEM;
    }
    for (int o = 0; o < c; o++) {
        double bias = 0;
        for (int i = 0; i < c; i++) {
            double s = exp((double)an_logs[i]);
            fwd->w[i * c + o] = (float)(w[o * c + i] * s);
            bias += (double)w[o * c + i] * an_b[i] * s;
        }
        fwd->b[o] = (float)bias;
    }
    /* inverse: x = diag(exp(-logs)) W^-1 y - b */
    int r = glow_invert_matrix(w, c, winv);
    if (r < 0) {
        free(winv);
        return r;
    }
    for (int i = 0; i < c; i++) {
        double s = exp(-(double)an_logs[i]);
        for (int j = 0; j < c; j++)
            inv->w[j * c + i] = (float)(winv[i * c + j] * s);
        inv->b[i] = -an_b[i];
    }
    free(winv);
    return 0;
}

static int col_k(int cin_pad) { return (9 * cin_pad + 7) & ~7; }

/* w [cout][cin_pad][3][3], output scale s[o] (NULL = 1), bias b[o] (NULL = 0), output
 * channel o written to column perm(o). */
static int fold_col_conv(struct blas_state *st, struct blas_col_conv *cv, const float *w, int cin, int cin_pad,
                         int cout, const float *bias, const float *logs, int deinterleave)
{
    cv->cin = cin;
    cv->cin_pad = cin_pad;
    cv->cout = cout;
    cv->kp = col_k(cin_pad);
    cv->w = st_alloc(st, (size_t)cv->kp * cout);
    cv->b = st_alloc(st, cout);
    if (!cv->w || !cv->b)
        return -ENOMEM;
    memset(cv->w, 0, sizeof(float) * cv->kp * cout);
    for (int o = 0; o < cout; o++) {
        int po = deinterleave ? (o % 2) * (cout / 2) + o / 2 : o;
        double s = logs ? exp((double)logs[o]) : 1.0;
        for (int ci = 0; ci < cin_pad; ci++)
            for (int t = 0; t < 9; t++)
                cv->w[(size_t)(t * cin_pad + ci) * cout + po] = (float)(w[((size_t)o * cin_pad + ci) * 9 + t] * s);
        cv->b[po] = (float)((bias ? bias[o] : 0.0) * s);
    }
    return 0;
}

static int fold_tap_conv(struct blas_state *st, struct blas_tap_conv *cv, const float *w, int cin, int edge,
                         int cout, const float *bias, const float *logs, int deinterleave)
{
    const int cin_pad = cin + edge;
    cv->cin = cin;
    cv->cout = cout;
    cv->w = st_alloc(st, (size_t)cin * 9 * cout);
    cv->b = st_alloc(st, cout);
    cv->edge = edge ? st_alloc(st, 9 * (size_t)cout) : NULL;
    if (!cv->w || !cv->b || (edge && !cv->edge))
        return -ENOMEM;
    for (int o = 0; o < cout; o++) {
        int po = deinterleave ? (o % 2) * (cout / 2) + o / 2 : o;
        double s = exp((double)logs[o]);
        for (int t = 0; t < 9; t++) {
            for (int ci = 0; ci < cin; ci++)
                cv->w[(size_t)(t * cout + po) * cin + ci] = (float)(w[((size_t)o * cin_pad + ci) * 9 + t] * s);
            if (edge)
                cv->edge[t * cout + po] = (float)(w[((size_t)o * cin_pad + cin) * 9 + t] * s);
        }
        cv->b[po] = (float)(bias[o] * s);
    }
    return 0;
}

static int fold_step(struct blas_state *st, const struct glow_step *gs, int c, int affine, struct blas_step *bs,
                     double *logdet, int hw)
{
    const struct glow_nn *nn = &gs->nn;
    const int e = st->cfg.edge_padding ? 1 : 0;
    int r = fold_lin(st, gs->an_bias, gs->an_logs, gs->invconv, c, &bs->fwd, &bs->inv);
    if (r < 0)
        return r;
    double ls = 0;
    for (int i = 0; i < c; i++)
        ls += gs->an_logs[i];
    *logdet += hw * (ls + glow_log_abs_det(gs->invconv, c));
    r = fold_col_conv(st, &bs->c1, nn->w1, c / 2, c / 2 + e, nn->width, nn->an1_bias, nn->an1_logs, 0);
    if (r < 0)
        return r;
    const int wd = nn->width;
    bs->w2 = st_alloc(st, (size_t)wd * wd);
    bs->b2 = st_alloc(st, wd);
    if (!bs->w2 || !bs->b2)
        return -ENOMEM;
    for (int o = 0; o < wd; o++) {
        double s = exp((double)nn->an2_logs[o]);
        for (int i = 0; i < wd; i++)
            bs->w2[(size_t)i * wd + o] = (float)(nn->w2[(size_t)o * wd + i] * s);
        bs->b2[o] = (float)(nn->an2_bias[o] * s);
    }
    r = fold_tap_conv(st, &bs->c3, nn->w3, wd, e, nn->cout, nn->b3, nn->logs3, affine);
    if (r < 0)
        return r;
    bs->ybias = gs->ybias;
    bs->yscale = gs->yscale;
    if (gs->yscale) {
        double l = 0;
        for (int j = 0; j < c / 2; j++)
            l += log((double)gs->yscale[j]);
        *logdet += hw * l;
    }
    return 0;
}

/* ---- kernels ------------------------------------------------------------------------- */

static void gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* out = in B + bias over P rows of C channels (small GEMMs: OpenBLAS keeps them on one
 * thread below its own threshold, and a split batch runs it single-threaded anyway;
 * measured 8x faster than a plain vectorised loop). */
static void apply_lin(const struct blas_lin *l, const float *in, float *out, int P, int c)
{
    double t0 = prof_start();
    for (int p = 0; p < P; p++)
        for (int i = 0; i < c; i++) /* a loop, not a memcpy call per pixel */
            out[(size_t)p * c + i] = l->b[i];
    gemm(P, c, c, in, c, l->w, c, 1.0f, out, c);
    prof_end(GLOW_BLAS_PROF_INVCONV, t0);
}

/* A padded copy of src's first cin channels (row stride sstride): [n][h+2][w+2][cin_pad],
 * zero outside the image, and the padding channel (1 outside) when cin_pad > cin. */
BLAS_VEC static void pad_input(struct blas_work *st, const float *src, int sstride, int cin, int cin_pad, int n, int h,
                      int w)
{
    double t0 = prof_start();
    const int pw = w + 2, ph = h + 2;
    const int pad = cin_pad > cin;
    for (int img = 0; img < n; img++) {
        float *a = st->apad + (size_t)img * ph * pw * cin_pad;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                float *d = a + ((size_t)y * pw + x) * cin_pad;
                if (y == 0 || y == ph - 1 || x == 0 || x == pw - 1) {
                    for (int ci = 0; ci < cin; ci++)
                        d[ci] = 0.0f;
                    if (pad)
                        d[cin] = 1.0f;
                } else {
                    const float *s = src + ((size_t)(img * h + y - 1) * w + x - 1) * sstride;
                    for (int ci = 0; ci < cin; ci++)
                        d[ci] = s[ci];
                    if (pad)
                        d[cin] = 0.0f;
                }
            }
    }
    prof_end(GLOW_BLAS_PROF_IM2COL, t0);
}

/* col[p - p0][t*cin_pad + ci] for pixels p0 .. p0+np-1 (of the batch): the 3x3
 * neighbourhood from pad_input's copy, 3 contiguous runs of 3*cin_pad floats, then
 * zeros up to col_k(cin_pad) columns. */
BLAS_VEC static void im2col(struct blas_work *st, int cin_pad, int h, int w, int p0, int np, float *col)
{
    double t0 = prof_start();
    const int K = col_k(cin_pad), pw = w + 2, ph = h + 2, run = 3 * cin_pad;
    int img = p0 / (h * w), y = p0 / w % h, x = p0 % w;
    for (int i = 0; i < np; i++) {
        const float *a = st->apad + ((size_t)(img * ph + y) * pw + x) * cin_pad;
        float *c = col + (size_t)i * K;
        for (int dy = 0; dy < 3; dy++) {
            const float *restrict s = a + (size_t)dy * pw * cin_pad;
            float *restrict d = c + dy * run;
            for (int j = 0; j < run; j++) /* short runs: a loop beats a memcpy call */
                d[j] = s[j];
        }
        for (int j = 9 * cin_pad; j < K; j++)
            c[j] = 0.0f;
        if (++x == w) {
            x = 0;
            if (++y == h) {
                y = 0;
                img++;
            }
        }
    }
    prof_end(GLOW_BLAS_PROF_IM2COL, t0);
}

BLAS_VEC static void bias_relu(float *restrict x, const float *restrict b, int P, int c)
{
    double t0 = prof_start();
    for (int p = 0; p < P; p++) {
        float *r = x + (size_t)p * c;
        for (int i = 0; i < c; i++) {
            float v = r[i] + b[i];
            r[i] = v > 0.0f ? v : 0.0f;
        }
    }
    prof_end(GLOW_BLAS_PROF_RELU, t0);
}

/* The coupling network up to conv3's GEMM: st->taps[t*cout + o][p]. In chunks of
 * pixels so the hidden activations stay in cache between their GEMMs and passes. */
static void nn_taps(struct blas_work *st, const struct blas_step *s, const float *a, int astride, int n, int h,
                    int w, int wd)
{
    const int P = n * h * w, K1 = s->c1.kp, tc = 9 * s->c3.cout;
    pad_input(st, a, astride, s->c1.cin, s->c1.cin_pad, n, h, w);
    for (int p0 = 0; p0 < P; p0 += st->chunk) {
        const int np = P - p0 < st->chunk ? P - p0 : st->chunk;
        im2col(st, s->c1.cin_pad, h, w, p0, np, st->col);
        double t0 = prof_start();
        gemm(np, wd, K1, st->col, K1, s->c1.w, wd, 0.0f, st->h1, wd);
        prof_end(GLOW_BLAS_PROF_CONV3_GEMM, t0);
        bias_relu(st->h1, s->c1.b, np, wd);
        t0 = prof_start();
        gemm(np, wd, wd, st->h1, wd, s->w2, wd, 0.0f, st->h2, wd);
        prof_end(GLOW_BLAS_PROF_CONV1_GEMM, t0);
        bias_relu(st->h2, s->b2, np, wd);
        t0 = prof_start();
        /* taps^T [9*cout][P] = W3 [9*cout][width] h2^T: channel-major, so the tap sum
         * reads contiguous runs of pixels */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tc, np, wd, 1.0f, s->c3.w, wd, st->h2, wd, 0.0f,
                    st->taps + p0, P);
        prof_end(GLOW_BLAS_PROF_CONV3_GEMM, t0);
    }
}

/* exp(x) in plain arithmetic the compiler vectorises (Cephes' expf polynomial, about
 * 1 ulp); libm's expf is a call per element and dominated the coupling pass. */
static inline float exp_vec(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float fn = x * 1.44269504088896341f;
    const float n = (fn + 12582912.0f) - 12582912.0f; /* round to nearest */
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    const float y = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float sc;
    memcpy(&sc, &bits, sizeof(sc));
    return y * sc;
}

/* conv3's output for one image, channel-major: out[k][p] = bias + the 9 shifted taps
 * (the padding channel's weights where a tap falls outside the image). taps is
 * [9*cout][P] (P = n*h*w), so each tap is one long contiguous run per channel; the
 * column that wraps into the neighbouring row is saved and restored around it. */
BLAS_VEC static void tap_sum_image(const struct blas_tap_conv *cv, const float *taps, int P, int img, int h, int w,
                          float *restrict out, float *restrict save)
{
    const int co = cv->cout, hw = h * w;
    for (int k = 0; k < co; k++)
        for (int p = 0; p < hw; p++)
            out[(size_t)k * hw + p] = cv->b[k];
    for (int dy = -1; dy <= 1; dy++) {
        const int ys = dy < 0 ? 1 : 0, ye = dy > 0 ? h - 1 : h; /* rows whose source row is inside */
        for (int dx = -1; dx <= 1; dx++) {
            const int t = (dy + 1) * 3 + dx + 1;
            const int xs = dx < 0 ? 0 : w - 1; /* the column whose tap wraps (dx != 0) */
            for (int k = 0; k < co; k++) {
                float *restrict o = out + (size_t)k * hw;
                const float *restrict src = taps + (size_t)(t * co + k) * P + (size_t)img * hw + dy * w + dx;
                int p0 = ys * w, p1 = ye * w;
                if (dx < 0)
                    p0++; /* x = 0 of the first row: its source lies before the image */
                if (dx > 0)
                    p1--;
                if (dx)
                    for (int y = ys; y < ye; y++)
                        save[y] = o[y * w + xs];
                for (int p = p0; p < p1; p++)
                    o[p] += src[p];
                const float e = cv->edge ? cv->edge[t * co + k] : 0.0f;
                if (dx)
                    for (int y = ys; y < ye; y++)
                        o[y * w + xs] = save[y] + e;
                if (cv->edge && dy) {
                    float *r = o + (dy < 0 ? 0 : (h - 1) * w);
                    for (int x = 0; x < w; x++)
                        r[x] += e;
                }
            }
        }
    }
}

/* Sums conv3's taps and applies the coupling to z's second half in place (dir > 0:
 * encode, adding log|scale| to ld[img]; dir < 0: decode). */
BLAS_VEC static void tapsum_couple(struct blas_work *st, const struct blas_step *s, float *z, int c, int n, int h,
                                   int w, int affine, int dir, double *ld)
{
    double t0 = prof_start();
    const int half = c / 2, hw = h * w, P = n * hw;
    float *restrict acc = st->acc, *restrict tt = st->tt;
    for (int img = 0; img < n; img++) {
        tap_sum_image(&s->c3, st->taps, P, img, h, w, acc, tt);
        float *restrict zi = z + (size_t)img * hw * c + half;
        if (affine) {
            /* acc[k][p]: shifts k < half, raw scales k >= half (de-interleaved at fold) */
            for (int i = 0; i < hw * half; i++)
                tt[i] = 1.0f + exp_vec(-(acc[(size_t)hw * half + i] + 2.0f)); /* 1 / sigmoid(v + 2) */
            for (int p = 0; p < hw; p++) {
                float *restrict b = zi + (size_t)p * c;
                if (dir > 0)
                    for (int j = 0; j < half; j++)
                        b[j] = (b[j] + acc[j * hw + p]) / tt[j * hw + p];
                else
                    for (int j = 0; j < half; j++)
                        b[j] = b[j] * tt[j * hw + p] - acc[j * hw + p];
            }
            if (dir > 0) {
                /* log prod(1 + exp(-(v + 2))) = -sum log(scale), kept as mantissa * 2^e */
                double mant = 1.0;
                long ex = 0;
                for (int i = 0; i < hw * half; i += 16) {
                    const int m = hw * half - i < 16 ? hw * half - i : 16;
                    double pr = 1.0;
                    for (int q = 0; q < m; q++)
                        pr *= tt[i + q];
                    int e;
                    mant = frexp(mant * pr, &e);
                    ex += e;
                }
                ld[img] -= log(mant) + ex * 0.69314718055994531;
            }
        } else {
            for (int p = 0; p < hw; p++) {
                float *restrict b = zi + (size_t)p * c;
                if (dir > 0) {
                    for (int j = 0; j < half; j++) {
                        float v = b[j] + acc[j * hw + p];
                        if (s->ybias)
                            v += s->ybias[j];
                        if (s->yscale)
                            v *= s->yscale[j];
                        b[j] = v;
                    }
                } else {
                    for (int j = 0; j < half; j++) {
                        float v = b[j];
                        if (s->yscale)
                            v /= s->yscale[j];
                        if (s->ybias)
                            v -= s->ybias[j];
                        b[j] = v - acc[j * hw + p];
                    }
                }
            }
        }
    }
    prof_end(GLOW_BLAS_PROF_TAPSUM, t0);
}

/* The split prior's GEMM: st->hp[p] = [mean(half) | logs(half)] without bias. */
static void prior_conv(struct blas_work *st, const struct blas_level *lv, const float *z, int n)
{
    const int P = n * lv->h * lv->w;
    const struct blas_col_conv *cv = &lv->prior;
    pad_input(st, z, lv->c, cv->cin, cv->cin_pad, n, lv->h, lv->w);
    im2col(st, cv->cin_pad, lv->h, lv->w, 0, P, st->col);
    double t0 = prof_start();
    gemm(P, cv->cout, cv->kp, st->col, cv->kp, cv->w, cv->cout, 0.0f, st->hp, cv->cout);
    prof_end(GLOW_BLAS_PROF_CONV3_GEMM, t0);
}

static const double LOG_2PI = 1.8378770664093453;

/* ---- encode / decode ----------------------------------------------------------------- */

static int encode_part(struct blas_state *st, struct blas_work *wk, const uint8_t *images, int n, float *latents,
                       double *bpd)
{
    const struct glow_config *cfg = &st->cfg;
    const int S = cfg->image_size, L = cfg->n_levels;
    const int affine = cfg->coupling == GLOW_COUPLING_AFFINE;
    const size_t lsz = st->m->latent_size;
    float *za = wk->za, *zb = wk->zb;
    double *ld = wk->ld, *lp = wk->lp;
    if (n < 1 || n > wk->max_n)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        ld[i] = lp[i] = 0;

    /* preprocess + level 0's squeeze: z[y][x][c*4 + dy*2 + dx] = pre(img[2y+dy][2x+dx][c]) */
    double t0 = prof_start();
    {
        const int h = S / 2;
        for (int img = 0; img < n; img++) {
            const uint8_t *src = images + (size_t)img * S * S * 3;
            float *dst = za + (size_t)img * h * h * 12;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < h; x++) {
                    float *d = dst + ((size_t)y * h + x) * 12;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            const uint8_t *s = src + ((size_t)(2 * y + dy) * S + 2 * x + dx) * 3;
                            for (int c = 0; c < 3; c++)
                                d[c * 4 + dy * 2 + dx] = st->pre_lut[s[c]];
                        }
                }
        }
    }
    prof_end(GLOW_BLAS_PROF_OTHER, t0);

    for (int l = 0; l < L; l++) {
        const struct blas_level *lv = &st->lv[l];
        const int h = lv->h, w = lv->w, c = lv->c, half = lv->half, P = n * h * w;
        for (int i = 0; i < n; i++)
            ld[i] += lv->logdet_const;
        for (int k = 0; k < cfg->depth; k++) {
            const struct blas_step *s = &lv->steps[k];
            apply_lin(&s->fwd, za, zb, P, c);
            nn_taps(wk, s, zb, c, n, h, w, cfg->width);
            tapsum_couple(wk, s, zb, c, n, h, w, affine, 1, ld);
            float *t = za;
            za = zb;
            zb = t;
        }
        if (lv->has_post) {
            apply_lin(&lv->post_fwd, za, zb, P, c);
            float *t = za;
            za = zb;
            zb = t;
        }
        if (l < L - 1) {
            prior_conv(wk, lv, za, n);
            t0 = prof_start();
            const float *pb = lv->prior.b;
            for (int img = 0; img < n; img++) {
                float *eps = latents + img * lsz + lv->eps_offset;
                double acc = 0;
                for (int q = 0; q < h * w; q++) {
                    const size_t p = (size_t)img * h * w + q;
                    const float *z2 = za + p * c + half, *hp = wk->hp + p * c;
                    for (int j = 0; j < half; j++) {
                        float mean = hp[j] + pb[j], logs = hp[half + j] + pb[half + j];
                        float e = (z2[j] - mean) * expf(-logs);
                        eps[(size_t)q * half + j] = e;
                        acc += -0.5 * (LOG_2PI + 2.0 * logs + (double)e * e);
                    }
                }
                lp[img] += acc;
            }
            /* z1 (first half) -> next level's squeeze */
            const int h2 = h / 2, w2 = w / 2, c2 = 2 * c;
            for (int img = 0; img < n; img++)
                for (int y = 0; y < h2; y++)
                    for (int x = 0; x < w2; x++) {
                        float *d = zb + ((size_t)(img * h2 + y) * w2 + x) * c2;
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++) {
                                const float *s = za + ((size_t)(img * h + 2 * y + dy) * w + 2 * x + dx) * c;
                                for (int ci = 0; ci < half; ci++)
                                    d[ci * 4 + dy * 2 + dx] = s[ci];
                            }
                    }
            float *t = za;
            za = zb;
            zb = t;
            prof_end(GLOW_BLAS_PROF_OTHER, t0);
        } else {
            t0 = prof_start();
            const float *mean = st->m->top_mean, *logs = st->m->top_logs;
            for (int img = 0; img < n; img++) {
                float *eps = latents + img * lsz + lv->eps_offset;
                const float *z = za + (size_t)img * h * w * c;
                double acc = 0;
                for (int i = 0; i < h * w * c; i++) {
                    float e = (z[i] - mean[i]) * expf(-logs[i]);
                    eps[i] = e;
                    acc += -0.5 * (LOG_2PI + 2.0 * logs[i] + (double)e * e);
                }
                lp[img] += acc;
            }
            prof_end(GLOW_BLAS_PROF_OTHER, t0);
        }
    }
    if (bpd) {
        const double D = (double)S * S * 3;
        for (int i = 0; i < n; i++)
            bpd[i] = (-(ld[i] + lp[i]) + D * log((double)(1 << cfg->n_bits))) / (D * log(2.0));
    }
    return 0;
}

static int decode_part(struct blas_state *st, struct blas_work *wk, const float *latents, int n, uint8_t *images)
{
    const struct glow_config *cfg = &st->cfg;
    const int S = cfg->image_size, L = cfg->n_levels;
    const int affine = cfg->coupling == GLOW_COUPLING_AFFINE;
    const size_t lsz = st->m->latent_size;
    float *za = wk->za, *zb = wk->zb;
    if (n < 1 || n > wk->max_n)
        return -EINVAL;

    for (int l = L - 1; l >= 0; l--) {
        const struct blas_level *lv = &st->lv[l];
        const int h = lv->h, w = lv->w, c = lv->c, half = lv->half, P = n * h * w;
        double t0 = prof_start();
        if (l == L - 1) {
            const float *mean = st->m->top_mean, *logs = st->m->top_logs;
            for (int img = 0; img < n; img++) {
                const float *eps = latents + img * lsz + lv->eps_offset;
                float *z = za + (size_t)img * h * w * c;
                for (int i = 0; i < h * w * c; i++)
                    z[i] = mean[i] + expf(logs[i]) * eps[i];
            }
            prof_end(GLOW_BLAS_PROF_OTHER, t0);
        } else {
            /* za's first half holds z1 (unsqueezed from level l+1) */
            prior_conv(wk, lv, za, n);
            t0 = prof_start();
            const float *pb = lv->prior.b;
            for (int img = 0; img < n; img++) {
                const float *eps = latents + img * lsz + lv->eps_offset;
                for (int q = 0; q < h * w; q++) {
                    const size_t p = (size_t)img * h * w + q;
                    float *z2 = za + p * c + half;
                    const float *hp = wk->hp + p * c;
                    for (int j = 0; j < half; j++)
                        z2[j] = (hp[j] + pb[j]) + expf(hp[half + j] + pb[half + j]) * eps[(size_t)q * half + j];
                }
            }
            prof_end(GLOW_BLAS_PROF_OTHER, t0);
        }
        if (lv->has_post) {
            apply_lin(&lv->post_inv, za, zb, P, c);
            float *t = za;
            za = zb;
            zb = t;
        }
        for (int k = cfg->depth - 1; k >= 0; k--) {
            const struct blas_step *s = &lv->steps[k];
            nn_taps(wk, s, za, c, n, h, w, cfg->width);
            tapsum_couple(wk, s, za, c, n, h, w, affine, -1, NULL);
            apply_lin(&s->inv, za, zb, P, c);
            float *t = za;
            za = zb;
            zb = t;
        }
        /* unsqueeze into level l-1's first half, or to the image */
        t0 = prof_start();
        if (l > 0) {
            const int H = 2 * h, W = 2 * w, C = c / 2, cq = c / 4;
            for (int img = 0; img < n; img++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        const float *s = za + ((size_t)(img * h + y) * w + x) * c;
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++) {
                                float *d = zb + ((size_t)(img * H + 2 * y + dy) * W + 2 * x + dx) * C;
                                for (int ci = 0; ci < cq; ci++)
                                    d[ci] = s[ci * 4 + dy * 2 + dx];
                            }
                    }
            float *t = za;
            za = zb;
            zb = t;
        } else {
            for (int img = 0; img < n; img++) {
                uint8_t *dst = images + (size_t)img * S * S * 3;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        const float *s = za + ((size_t)(img * h + y) * w + x) * 12;
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++) {
                                uint8_t *d = dst + ((size_t)(2 * y + dy) * S + 2 * x + dx) * 3;
                                for (int ci = 0; ci < 3; ci++)
                                    d[ci] = glow_postprocess(s[ci * 4 + dy * 2 + dx], st->post_bits);
                            }
                    }
            }
        }
        prof_end(GLOW_BLAS_PROF_OTHER, t0);
    }
    return 0;
}

/* ---- create / destroy ---------------------------------------------------------------- */

static void blas_destroy(void *state)
{
    struct blas_state *st = state;
    if (!st)
        return;
    if (st->split) {
        pthread_mutex_lock(&st->mu);
        st->quit = 1;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->worker, NULL);
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
    }
    free(st->work[0].arena);
    free(st->work[1].arena);
    for (int i = 0; i < st->n_allocs; i++)
        free(st->allocs[i]);
    free(st->allocs);
    for (int l = 0; l < GLOW_MAX_LEVELS; l++)
        free(st->lv[l].steps);
    free(st);
}

static size_t round64(size_t nfloats) { return (nfloats + 15) & ~(size_t)15; }

/* Pixels per pass through the coupling network: the hidden activations of a chunk
 * (2 x rows x width floats) stay within the 2 MiB L2 caches between GEMMs and passes.
 * GLOWCAM_BLAS_CHUNK overrides it (for measurements and tests). */
static int chunk_rows(int width, int p_max)
{
    int rows = 262144 / width;
    const char *env = getenv("GLOWCAM_BLAS_CHUNK");
    if (env && atoi(env) > 0)
        rows = atoi(env);
    return rows < p_max ? rows : p_max;
}

/* Activations for up to nb images. */
static int work_init(struct blas_state *st, struct blas_work *wk, int nb)
{
    const struct glow_config *cfg = &st->cfg;
    const int e = cfg->edge_padding ? 1 : 0;
    size_t n_col = 0, n_taps = 0, n_hp = 0, n_apad = 0, n_acc = 0, n_tt = 0;
    for (int l = 0; l < cfg->n_levels; l++) {
        const struct blas_level *lv = &st->lv[l];
        const size_t hw = (size_t)lv->h * lv->w, P = hw * nb;
        const size_t co = st->m->levels[l].steps[0].nn.cout;
        n_acc = hw * co > n_acc ? hw * co : n_acc;
        n_taps = P * 9 * co > n_taps ? P * 9 * co : n_taps;
        n_col = P * col_k(lv->half + e) > n_col ? P * col_k(lv->half + e) : n_col;
        const size_t np = (size_t)nb * (lv->h + 2) * (lv->w + 2) * (lv->half + e);
        n_apad = np > n_apad ? np : n_apad;
        n_tt = hw * lv->half + lv->h > n_tt ? hw * lv->half + lv->h : n_tt;
        n_hp = P * lv->c > n_hp ? P * lv->c : n_hp;
    }
    const size_t S = cfg->image_size;
    const size_t n_z = round64(S * S * 3 * nb);
    wk->max_n = nb;
    wk->chunk = chunk_rows(cfg->width, nb * (int)(S / 2) * (int)(S / 2));
    const size_t n_h = round64((size_t)wk->chunk * cfg->width);
    n_col = round64(n_col);
    n_taps = round64(n_taps);
    n_hp = round64(n_hp);
    n_acc = round64(n_acc);
    n_apad = round64(n_apad);
    n_tt = round64(n_tt);
    const size_t n_d = round64(2 * (size_t)nb * 2); /* ld, lp as doubles */
    const size_t total = 2 * n_z + n_col + n_apad + 2 * n_h + n_taps + n_hp + n_acc + n_tt + n_d;
    wk->bytes = total * sizeof(float);
    wk->arena = aligned_alloc(64, wk->bytes);
    if (!wk->arena) {
        gc_log(GC_LOG_ERROR, "cpu backend: cannot allocate %.1f MiB of activations for %d faces",
               wk->bytes / (double)(1 << 20), nb);
        return -ENOMEM;
    }
    float *a = wk->arena;
    wk->za = a, a += n_z;
    wk->zb = a, a += n_z;
    wk->col = a, a += n_col;
    wk->apad = a, a += n_apad;
    wk->h1 = a, a += n_h;
    wk->h2 = a, a += n_h;
    wk->taps = a, a += n_taps;
    wk->hp = a, a += n_hp;
    wk->acc = a, a += n_acc;
    wk->tt = a, a += n_tt;
    wk->ld = (double *)a;
    wk->lp = wk->ld + nb;
    return 0;
}

static void *worker_main(void *arg)
{
    struct blas_state *st = arg;
    t_slot = 1;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->go && !st->quit)
            pthread_cond_wait(&st->cv, &st->mu);
        if (st->quit)
            break;
        st->go = 0;
        struct blas_job j = st->job;
        pthread_mutex_unlock(&st->mu);
        j.ret = j.dir > 0 ? encode_part(st, &st->work[1], j.images, j.n, j.lat_out, j.bpd)
                          : decode_part(st, &st->work[1], j.latents, j.n, j.img_out);
        pthread_mutex_lock(&st->mu);
        st->job.ret = j.ret;
        st->done = 1;
        pthread_cond_broadcast(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* OpenBLAS's thread count is process-wide: 1 while the batch is split, all otherwise. */
static void blas_threads(int n)
{
    static int current = -1;
    if (n != current) {
        openblas_set_num_threads(n);
        current = n;
    }
}

/* Runs the second half of a batch on the worker while this thread does the first. */
static int run_split(struct blas_state *st, struct blas_job *j, int n0)
{
    const size_t isz = (size_t)st->cfg.image_size * st->cfg.image_size * 3, lsz = st->m->latent_size;
    blas_threads(1);
    pthread_mutex_lock(&st->mu);
    st->job = *j;
    st->job.n = j->n - n0;
    if (j->dir > 0) {
        st->job.images = j->images + n0 * isz;
        st->job.lat_out = j->lat_out + n0 * lsz;
        st->job.bpd = j->bpd ? j->bpd + n0 : NULL;
    } else {
        st->job.latents = j->latents + n0 * lsz;
        st->job.img_out = j->img_out + n0 * isz;
    }
    st->done = 0;
    st->go = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    int r = j->dir > 0 ? encode_part(st, &st->work[0], j->images, n0, j->lat_out, j->bpd)
                       : decode_part(st, &st->work[0], j->latents, n0, j->img_out);
    pthread_mutex_lock(&st->mu);
    while (!st->done)
        pthread_cond_wait(&st->cv, &st->mu);
    const int r1 = st->job.ret;
    pthread_mutex_unlock(&st->mu);
    return r < 0 ? r : r1;
}

static int blas_encode(void *state, const uint8_t *images, int n, float *latents, double *bpd)
{
    struct blas_state *st = state;
    if (n < 1 || n > st->max_batch)
        return -EINVAL;
    if (st->split && n >= 2) {
        struct blas_job j = {.dir = 1, .images = images, .n = n, .lat_out = latents, .bpd = bpd};
        return run_split(st, &j, (n + 1) / 2);
    }
    blas_threads(st->threads);
    return encode_part(st, &st->work[0], images, n, latents, bpd);
}

static int blas_decode(void *state, const float *latents, int n, uint8_t *images)
{
    struct blas_state *st = state;
    if (n < 1 || n > st->max_batch)
        return -EINVAL;
    if (st->split && n >= 2) {
        struct blas_job j = {.dir = -1, .latents = latents, .n = n, .img_out = images};
        return run_split(st, &j, (n + 1) / 2);
    }
    blas_threads(st->threads);
    return decode_part(st, &st->work[0], latents, n, images);
}

static int blas_create(void **state, const glow_model *m, const struct glow_params *p, char *describe,
                       size_t describe_size)
{
    *state = NULL;
    pthread_once(&g_blas_once, blas_once);
    struct blas_state *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->m = m;
    st->cfg = m->cfg;
    st->max_batch = p->max_batch;
    st->post_bits = p->decode_bits ? p->decode_bits : m->cfg.n_bits;
    const struct glow_config *cfg = &st->cfg;
    const int affine = cfg->coupling == GLOW_COUPLING_AFFINE;
    int r = 0;
    for (int i = 0; i < 256; i++)
        st->pre_lut[i] = glow_preprocess((uint8_t)i, cfg->n_bits);

    for (int l = 0; l < cfg->n_levels; l++) {
        const struct glow_level *gl = &m->levels[l];
        struct blas_level *lv = &st->lv[l];
        lv->h = gl->h;
        lv->w = gl->w;
        lv->c = gl->c;
        lv->half = gl->c / 2;
        lv->eps_offset = gl->eps_offset;
        const int hw = gl->h * gl->w;
        lv->steps = calloc(cfg->depth, sizeof(*lv->steps));
        if (!lv->steps) {
            r = -ENOMEM;
            goto fail;
        }
        for (int k = 0; k < cfg->depth; k++) {
            r = fold_step(st, &gl->steps[k], gl->c, affine, &lv->steps[k], &lv->logdet_const, hw);
            if (r < 0)
                goto fail;
        }
        if (gl->post_invconv) {
            lv->has_post = 1;
            r = fold_lin(st, gl->post_an_bias, gl->post_an_logs, gl->post_invconv, gl->c, &lv->post_fwd,
                         &lv->post_inv);
            if (r < 0)
                goto fail;
            double ls = 0;
            for (int i = 0; i < gl->c; i++)
                ls += gl->post_an_logs[i];
            lv->logdet_const += hw * (ls + glow_log_abs_det(gl->post_invconv, gl->c));
        }
        if (l < cfg->n_levels - 1) {
            lv->has_prior = 1;
            r = fold_col_conv(st, &lv->prior, gl->prior_w, lv->half, gl->prior_cin_pad, gl->c, gl->prior_b,
                              gl->prior_logs, 1);
            if (r < 0)
                goto fail;
        }
    }

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    st->threads = p->threads > 0 ? p->threads : (ncpu > 0 ? (int)ncpu : 1);
    const int split = st->threads >= 2 && st->max_batch >= 2;
    if ((r = work_init(st, &st->work[0], split ? (st->max_batch + 1) / 2 : st->max_batch)) < 0 ||
        (split && (r = work_init(st, &st->work[1], st->max_batch / 2)) < 0))
        goto fail;
    if (split) {
        pthread_mutex_init(&st->mu, NULL);
        pthread_cond_init(&st->cv, NULL);
        if (pthread_create(&st->worker, NULL, worker_main, st)) {
            pthread_mutex_destroy(&st->mu);
            pthread_cond_destroy(&st->cv);
            gc_log(GC_LOG_ERROR, "cpu backend: cannot start a worker thread");
            r = -EAGAIN;
            goto fail;
        }
        st->split = 1;
    }
    /* a batch of one face may use every thread inside OpenBLAS */
    blas_threads(st->threads);
    snprintf(g_blas_info, sizeof(g_blas_info), "OpenBLAS %s kernels", openblas_get_corename());
    snprintf(describe, describe_size, "%s, %d thread%s%s, arena %.1f MiB for a batch of %d", g_blas_info,
             st->threads, st->threads > 1 ? "s" : "",
             split ? " (a batch splits over 2 threads, single-threaded OpenBLAS each; 1 face: OpenBLAS's threads)" : "",
             (st->work[0].bytes + st->work[1].bytes) / (double)(1 << 20), st->max_batch);
    *state = st;
    return 0;
fail:
    if (r == -ENOMEM)
        gc_log(GC_LOG_ERROR, "cpu backend: out of memory preparing the model");
    else
        gc_log(GC_LOG_ERROR, "cpu backend: cannot prepare %s: %s", m->path ? m->path : "the model", gc_strerror(r));
    blas_destroy(st);
    return r;
}

/* ---- benchmark helpers --------------------------------------------------------------- */

int glow_blas_gemm_shapes(const glow_model *m, int batch, struct glow_blas_shape *out, int max)
{
    const struct glow_config *cfg = &m->cfg;
    const int e = cfg->edge_padding ? 1 : 0, wd = cfg->width;
    const int chunk = chunk_rows(wd, batch * (cfg->image_size / 2) * (cfg->image_size / 2));
    int n = 0;
#define ADD(M, N, K, TB, CNT, CLS)                                                                 \
    do {                                                                                       \
        int i_;                                                                                \
        for (i_ = 0; i_ < n; i_++)                                                             \
            if (out[i_].m == (M) && out[i_].n == (N) && out[i_].k == (K) && out[i_].trans_b == (TB)) \
                break;                                                                         \
        if (i_ < n)                                                                            \
            out[i_].count += (CNT);                                                            \
        else if (n < max)                                                                      \
            out[n++] = (struct glow_blas_shape){(M), (N), (K), (TB), (CNT), (CLS)};             \
    } while (0)
    for (int l = 0; l < cfg->n_levels; l++) {
        const struct glow_level *gl = &m->levels[l];
        const int P = batch * gl->h * gl->w, c = gl->c, half = c / 2;
        const int co = gl->steps[0].nn.cout, K = cfg->depth;
        ADD(P, c, c, 0, K + (gl->post_invconv ? 1 : 0), GLOW_BLAS_PROF_INVCONV);
        for (int p0 = 0; p0 < P; p0 += chunk) { /* the coupling network runs in row chunks */
            const int ch = P - p0 < chunk ? P - p0 : chunk;
            ADD(ch, wd, col_k(half + e), 0, K, GLOW_BLAS_PROF_CONV3_GEMM);
            ADD(ch, wd, wd, 0, K, GLOW_BLAS_PROF_CONV1_GEMM);
            ADD(9 * co, ch, wd, 1, K, GLOW_BLAS_PROF_CONV3_GEMM);
        }
        if (l < cfg->n_levels - 1)
            ADD(P, c, col_k(half + e), 0, 1, GLOW_BLAS_PROF_CONV3_GEMM);
    }
#undef ADD
    return n;
}

double glow_blas_sgemm_gflops(int m, int n, int k, int trans_b, int threads, double seconds)
{
    float *a = aligned_alloc(64, round64((size_t)m * k) * sizeof(float));
    float *b = aligned_alloc(64, round64((size_t)k * n) * sizeof(float));
    float *c = aligned_alloc(64, round64((size_t)m * n) * sizeof(float));
    double rate = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)m * k; i++)
            a[i] = (float)((i * 7919) % 1000) * 1e-3f;
        for (size_t i = 0; i < (size_t)k * n; i++)
            b[i] = (float)((i * 104729) % 1000) * 1e-3f;
        const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
        blas_threads(threads);
        const int ldb = trans_b ? k : n;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k, 1.0f, a, k, b, ldb, 0.0f, c, n); /* warm up */
        int it = 0;
        double t0 = gc_time(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k, 1.0f, a, k, b, ldb, 0.0f, c, n);
            it++;
            t = gc_time() - t0;
        } while (t < seconds);
        rate = 2.0 * m * n * k * it / t * 1e-9;
    }
    free(a);
    free(b);
    free(c);
    return rate;
}

const struct glow_backend_ops glow_blas_ops = {
    .name = "cpu",
    .create = blas_create,
    .encode = blas_encode,
    .decode = blas_decode,
    .destroy = blas_destroy,
};
