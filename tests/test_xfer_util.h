/* Helpers shared by the xfer tests: a random-weight Glow model written as a
 * model file (so the tests need no trained model), a seeded RNG, and capture of
 * the log to check error messages. */
#ifndef TEST_XFER_UTIL_H
#define TEST_XFER_UTIL_H

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glow/glow.h"

static int xt_failures;
#define XT_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            xt_failures++;                                                    \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

static uint64_t xt_state = 0x9e3779b97f4a7c15ull;
static void xt_seed(uint64_t s) { xt_state = s * 0x9e3779b97f4a7c15ull + 1; }
static double xt_uniform(void) /* [0, 1) */
{
    xt_state ^= xt_state << 13;
    xt_state ^= xt_state >> 7;
    xt_state ^= xt_state << 17;
    return (double)(xt_state >> 11) / 9007199254740992.0;
}
static double xt_gauss(void)
{
    double u = xt_uniform(), v = xt_uniform();
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}
static void xt_fill(float *x, size_t n, double scale, double offset)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(offset + scale * xt_gauss());
}

/* Random orthogonal c x c matrix (Gram-Schmidt on Gaussian rows). */
static void xt_orthogonal(float *w, int c)
{
    double *a = malloc(sizeof(double) * c * c);
    for (int i = 0; i < c * c; i++)
        a[i] = xt_gauss();
    for (int i = 0; i < c; i++) {
        for (int j = 0; j < i; j++) {
            double d = 0;
            for (int k = 0; k < c; k++)
                d += a[i * c + k] * a[j * c + k];
            for (int k = 0; k < c; k++)
                a[i * c + k] -= d * a[j * c + k];
        }
        double n = 0;
        for (int k = 0; k < c; k++)
            n += a[i * c + k] * a[i * c + k];
        n = sqrt(n);
        for (int k = 0; k < c; k++)
            a[i * c + k] /= n;
    }
    for (int i = 0; i < c * c; i++)
        w[i] = (float)a[i];
    free(a);
}

#define XT_MAX_T 512
struct xt_model_writer {
    struct glow_st_entry t[XT_MAX_T];
    char names[XT_MAX_T][96];
    float *data[XT_MAX_T];
    int n;
};

static float *xt_add(struct xt_model_writer *w, const char *name, int ndim, const int64_t *shape, double scale,
                     double offset)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    float *d = malloc(n * sizeof(float));
    xt_fill(d, n, scale, offset);
    snprintf(w->names[w->n], sizeof(w->names[0]), "%s", name);
    w->t[w->n].name = w->names[w->n];
    w->t[w->n].data = d;
    w->t[w->n].ndim = ndim;
    for (int i = 0; i < ndim; i++)
        w->t[w->n].shape[i] = shape[i];
    w->data[w->n++] = d;
    return d;
}

/* A random model of the given shape (affine or additive coupling, no edge padding),
 * stable enough that decode(encode(x)) is exact after quantization. */
static int xt_write_random_model(const char *path, int size, int levels, int depth, int width, int affine,
                                 const char *name, uint64_t seed)
{
    struct xt_model_writer *w = calloc(1, sizeof(*w));
    char key[96];
    xt_seed(seed);
    int c = 12, h = size / 2;
    for (int l = 0; l < levels; l++) {
        const int64_t C = c, half = c / 2, cout = affine ? c : c / 2, W = width;
        for (int k = 0; k < depth; k++) {
#define P(fmt) (snprintf(key, sizeof(key), "levels.%d.steps.%d." fmt, l, k), key)
            xt_add(w, P("actnorm.bias"), 1, (int64_t[]){C}, 0.1, 0);
            xt_add(w, P("actnorm.logscale"), 1, (int64_t[]){C}, 0.05, 0);
            xt_orthogonal(xt_add(w, P("invconv.weight"), 2, (int64_t[]){C, C}, 0, 0), c);
            xt_add(w, P("coupling.conv1.weight"), 4, (int64_t[]){W, half, 3, 3}, 0.05, 0);
            xt_add(w, P("coupling.conv1.actnorm.bias"), 1, (int64_t[]){W}, 0.05, 0);
            xt_add(w, P("coupling.conv1.actnorm.logscale"), 1, (int64_t[]){W}, 0.05, 0);
            xt_add(w, P("coupling.conv2.weight"), 4, (int64_t[]){W, W, 1, 1}, 0.05, 0);
            xt_add(w, P("coupling.conv2.actnorm.bias"), 1, (int64_t[]){W}, 0.05, 0);
            xt_add(w, P("coupling.conv2.actnorm.logscale"), 1, (int64_t[]){W}, 0.05, 0);
            xt_add(w, P("coupling.conv3.weight"), 4, (int64_t[]){cout, W, 3, 3}, 0.05, 0);
            xt_add(w, P("coupling.conv3.bias"), 1, (int64_t[]){cout}, 0.05, 0);
            xt_add(w, P("coupling.conv3.logscale"), 1, (int64_t[]){cout}, 0.05, 0);
#undef P
        }
        if (l < levels - 1) {
            snprintf(key, sizeof(key), "levels.%d.prior.weight", l);
            xt_add(w, key, 4, (int64_t[]){C, half, 3, 3}, 0.05, 0);
            snprintf(key, sizeof(key), "levels.%d.prior.bias", l);
            xt_add(w, key, 1, (int64_t[]){C}, 0.05, 0);
            snprintf(key, sizeof(key), "levels.%d.prior.logscale", l);
            xt_add(w, key, 1, (int64_t[]){C}, 0.05, 0);
            c = c / 2 * 4;
            h /= 2;
        }
    }
    xt_add(w, "top.mean", 3, (int64_t[]){h, h, c}, 0.05, 0);
    xt_add(w, "top.logscale", 3, (int64_t[]){h, h, c}, 0.05, 0);
    char s_size[16], s_lev[16], s_depth[16], s_width[16];
    snprintf(s_size, sizeof(s_size), "%d", size);
    snprintf(s_lev, sizeof(s_lev), "%d", levels);
    snprintf(s_depth, sizeof(s_depth), "%d", depth);
    snprintf(s_width, sizeof(s_width), "%d", width);
    const char *const meta[] = {"glowcam.format", "1", "image_size", s_size, "n_levels", s_lev, "depth", s_depth,
                                "width", s_width, "coupling", affine ? "affine" : "additive", "n_bits", "5",
                                "edge_padding", "false", "alignment", "openai-eyes", "level_post", "false",
                                "name", name, "description", "random weights for tests", "training", "none", NULL};
    int r = glow_st_write(path, w->t, w->n, meta);
    for (int i = 0; i < w->n; i++)
        free(w->data[i]);
    free(w);
    return r;
}

/* Captures what the code under test logs to stderr between begin and end. */
static int xt_saved_fd = -1;
static char xt_log_path[256];
static void xt_capture_begin(const char *dir)
{
    snprintf(xt_log_path, sizeof(xt_log_path), "%s/captured.log", dir);
    fflush(stderr);
    xt_saved_fd = dup(2);
    int fd = open(xt_log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}
static char *xt_capture_end(void) /* malloc'd text (also echoed to stdout) */
{
    fflush(stderr);
    dup2(xt_saved_fd, 2);
    close(xt_saved_fd);
    FILE *f = fopen(xt_log_path, "rb");
    char *buf = calloc(1, 8192);
    if (f) {
        size_t n = fread(buf, 1, 8191, f);
        buf[n] = 0;
        fclose(f);
    }
    printf("  captured log: %s", buf);
    return buf;
}

/* Area-average resize of a square RGB image (side s) to side d (d divides s or not). */
static inline void xt_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int d)
{
    for (int y = 0; y < d; y++)
        for (int x = 0; x < d; x++) {
            int x0 = x * sw / d, x1 = (x + 1) * sw / d, y0 = y * sh / d, y1 = (y + 1) * sh / d;
            if (x1 <= x0) x1 = x0 + 1;
            if (y1 <= y0) y1 = y0 + 1;
            for (int ch = 0; ch < 3; ch++) {
                unsigned sum = 0, n = 0;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++, n++)
                        sum += src[((size_t)yy * sw + xx) * 3 + ch];
                dst[((size_t)y * d + x) * 3 + ch] = (uint8_t)((sum + n / 2) / n);
            }
        }
}

#endif
