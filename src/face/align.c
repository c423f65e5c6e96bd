/* Alignment recipes (image -> crop similarity/affine transforms) and the crop warp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "face/face.h"
#include "face/priv.h"

/* OpenAI's Glow demo: imutils FaceAligner(desiredLeftEye=(0.371, 0.480)) */
#define EYES_X 0.371
#define EYES_Y 0.480

int face_recipe_parse(const char *name, enum face_recipe *out)
{
    if (name && !strcmp(name, "openai-eyes")) {
        *out = FACE_RECIPE_OPENAI_EYES;
        return 0;
    }
    if (name && !strcmp(name, "ffhq-quad")) {
        *out = FACE_RECIPE_FFHQ_QUAD;
        return 0;
    }
    return -EINVAL;
}

const char *face_recipe_name(enum face_recipe r)
{
    return r == FACE_RECIPE_FFHQ_QUAD ? "ffhq-quad" : "openai-eyes";
}

static void mean_pts(const float pts[FACE_N_POINTS][2], int a, int b, double out[2])
{
    out[0] = out[1] = 0;
    for (int i = a; i < b; i++) {
        out[0] += pts[i][0];
        out[1] += pts[i][1];
    }
    out[0] /= b - a;
    out[1] /= b - a;
}

static int invert_d(const double m[6], double inv[6])
{
    double det = m[0] * m[4] - m[1] * m[3];
    if (!isfinite(det) || fabs(det) < 1e-12)
        return -EINVAL;
    inv[0] = m[4] / det;
    inv[1] = -m[1] / det;
    inv[3] = -m[3] / det;
    inv[4] = m[0] / det;
    inv[2] = -(inv[0] * m[2] + inv[1] * m[5]);
    inv[5] = -(inv[3] * m[2] + inv[4] * m[5]);
    return 0;
}

int face_align_transform(enum face_recipe r, const float pts[FACE_N_POINTS][2], int out_size, float m[6])
{
    double el[2], er[2], d[6];
    if (out_size <= 0)
        return -EINVAL;
    mean_pts(pts, 36, 42, el); /* image-left eye (the subject's right) */
    mean_pts(pts, 42, 48, er);
    double S = out_size;
    if (r == FACE_RECIPE_OPENAI_EYES) {
        /* cv2.getRotationMatrix2D about the eye midpoint, then the midpoint moved to
         * (S/2, 0.48 S): the image-left eye lands at (0.371 S, 0.48 S) */
        double dx = er[0] - el[0], dy = er[1] - el[1], dist = hypot(dx, dy);
        if (!(dist > 1e-3))
            return -EINVAL;
        double k = (1.0 - 2.0 * EYES_X) * S / dist, c = dx / dist, s = dy / dist;
        double cx = (el[0] + er[0]) / 2, cy = (el[1] + er[1]) / 2;
        d[0] = k * c;
        d[1] = k * s;
        d[3] = -k * s;
        d[4] = k * c;
        d[2] = 0.5 * S - (d[0] * cx + d[1] * cy);
        d[5] = EYES_Y * S - (d[3] * cx + d[4] * cy);
    } else if (r == FACE_RECIPE_FFHQ_QUAD) {
        /* FFHQ's recreate_aligned_images: the quad c -+ x -+ y, PIL QUAD with (quad + 0.5) */
        double ml[2] = {pts[48][0], pts[48][1]}, mr[2] = {pts[54][0], pts[54][1]};
        double ea[2] = {(el[0] + er[0]) / 2, (el[1] + er[1]) / 2};
        double e2e[2] = {er[0] - el[0], er[1] - el[1]};
        double e2m[2] = {(ml[0] + mr[0]) / 2 - ea[0], (ml[1] + mr[1]) / 2 - ea[1]};
        double x[2] = {e2e[0] + e2m[1], e2e[1] - e2m[0]}; /* eye_to_eye - flipud(eye_to_mouth) * [-1, 1] */
        double xl = hypot(x[0], x[1]);
        if (!(xl > 1e-3))
            return -EINVAL;
        double len = fmax(hypot(e2e[0], e2e[1]) * 2.0, hypot(e2m[0], e2m[1]) * 1.8);
        x[0] *= len / xl;
        x[1] *= len / xl;
        double y[2] = {-x[1], x[0]}; /* flipud(x) * [-1, 1] */
        double c[2] = {ea[0] + e2m[0] * 0.1, ea[1] + e2m[1] * 0.1};
        /* crop pixel (u, v) -> image: c - x - y + 2x (u + 0.5)/S + 2y (v + 0.5)/S */
        double inv[6];
        inv[0] = 2 * x[0] / S;
        inv[1] = 2 * y[0] / S;
        inv[2] = c[0] - x[0] - y[0] + (x[0] + y[0]) / S;
        inv[3] = 2 * x[1] / S;
        inv[4] = 2 * y[1] / S;
        inv[5] = c[1] - x[1] - y[1] + (x[1] + y[1]) / S;
        if (invert_d(inv, d) < 0)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        if (!isfinite(d[i]))
            return -EINVAL;
        m[i] = (float)d[i];
    }
    return 0;
}

int face_transform_invert(const float m[6], float inv[6])
{
    double a[6], b[6];
    for (int i = 0; i < 6; i++)
        a[i] = m[i];
    if (invert_d(a, b) < 0)
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        inv[i] = (float)b[i];
    return 0;
}

void face_transform_point(const float m[6], float x, float y, float *u, float *v)
{
    *u = m[0] * x + m[1] * y + m[2];
    *v = m[3] * x + m[4] * y + m[5];
}

/* ---- sampling ---- */

static inline int border_index(int i, int n, int reflect)
{
    if (i >= 0 && i < n)
        return i;
    if (!reflect || n == 1)
        return i < 0 ? 0 : n - 1;
    /* mirror without repeating the edge pixel (OpenCV's BORDER_REFLECT_101) */
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

static inline void cubic_weights(float t, float w[4])
{
    /* Keys' cubic with a = -0.5 (Catmull-Rom): interpolating, sharp, little ringing */
    const float a = -0.5f;
    float t1 = t + 1, t2 = t, t3 = 1 - t, t4 = 2 - t;
    w[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    w[1] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    w[2] = ((a + 2) * t3 - (a + 3)) * t3 * t3 + 1;
    w[3] = ((a * t4 - 5 * a) * t4 + 8 * a) * t4 - 4 * a;
}

static inline uint8_t clamp_u8(float v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
}

/* Sample a 3-channel image (uint8 or float rows, picked by `f`) at (x, y). */
#define DEFINE_SAMPLER(NAME, T)                                                                 \
    static void NAME(const T *img, int w, int h, size_t stride, float x, float y, int cubic,   \
                     int reflect, uint8_t out[3])                                               \
    {                                                                                           \
        if (!cubic) {                                                                           \
            float fx = floorf(x), fy = floorf(y);                                               \
            int x0 = (int)fx, y0 = (int)fy;                                                     \
            float ax = x - fx, ay = y - fy;                                                     \
            int xa = border_index(x0, w, reflect), xb = border_index(x0 + 1, w, reflect);       \
            int ya = border_index(y0, h, reflect), yb = border_index(y0 + 1, h, reflect);       \
            const T *ra = img + (size_t)ya * stride, *rb = img + (size_t)yb * stride;           \
            for (int c = 0; c < 3; c++) {                                                       \
                float v = (1 - ay) * ((1 - ax) * ra[3 * xa + c] + ax * ra[3 * xb + c]) +        \
                          ay * ((1 - ax) * rb[3 * xa + c] + ax * rb[3 * xb + c]);               \
                out[c] = clamp_u8(v);                                                           \
            }                                                                                   \
            return;                                                                             \
        }                                                                                       \
        float fx = floorf(x), fy = floorf(y);                                                   \
        int x0 = (int)fx - 1, y0 = (int)fy - 1;                                                 \
        float wx[4], wy[4];                                                                     \
        cubic_weights(x - fx, wx);                                                              \
        cubic_weights(y - fy, wy);                                                              \
        int xi[4], yi[4];                                                                       \
        for (int k = 0; k < 4; k++) {                                                           \
            xi[k] = border_index(x0 + k, w, reflect);                                           \
            yi[k] = border_index(y0 + k, h, reflect);                                           \
        }                                                                                       \
        float acc[3] = {0, 0, 0};                                                               \
        for (int j = 0; j < 4; j++) {                                                           \
            const T *row = img + (size_t)yi[j] * stride;                                        \
            float r = 0, g = 0, b = 0;                                                          \
            for (int k = 0; k < 4; k++) {                                                       \
                const T *p = row + 3 * xi[k];                                                   \
                r += wx[k] * p[0];                                                              \
                g += wx[k] * p[1];                                                              \
                b += wx[k] * p[2];                                                              \
            }                                                                                   \
            acc[0] += wy[j] * r;                                                                \
            acc[1] += wy[j] * g;                                                                \
            acc[2] += wy[j] * b;                                                                \
        }                                                                                       \
        out[0] = clamp_u8(acc[0]);                                                              \
        out[1] = clamp_u8(acc[1]);                                                              \
        out[2] = clamp_u8(acc[2]);                                                              \
    }
DEFINE_SAMPLER(sample_u8, uint8_t)
DEFINE_SAMPLER(sample_f32, float)

int face_warp(const uint8_t *rgb, int w, int h, int stride, const float m[6], uint8_t *out, int out_size,
              int flags)
{
    float inv[6];
    if (!rgb || !out || w <= 0 || h <= 0 || out_size <= 0 || face_transform_invert(m, inv) < 0)
        return -EINVAL;
    stride = face_stride(w, stride);
    int cubic = !(flags & FACE_WARP_BILINEAR), reflect = !!(flags & FACE_WARP_REFLECT);
    /* image pixels per crop pixel */
    double scale = sqrt(fabs((double)inv[0] * inv[4] - (double)inv[1] * inv[3]));
    int k = (flags & FACE_WARP_NO_AREA) ? 1 : (int)floor(scale);
    if (k < 2) {
        for (int v = 0; v < out_size; v++)
            for (int u = 0; u < out_size; u++) {
                float x = inv[0] * u + inv[1] * v + inv[2], y = inv[3] * u + inv[4] * v + inv[5];
                sample_u8(rgb, w, h, (size_t)stride, x, y, cubic, reflect, out + ((size_t)v * out_size + u) * 3);
            }
        return 0;
    }
    /* Shrinking by k or more: average k x k blocks of the footprint first (area filter, no
     * aliasing), then interpolate in that smaller image. */
    float xmin = 1e30f, xmax = -1e30f, ymin = 1e30f, ymax = -1e30f;
    for (int c = 0; c < 4; c++) {
        float u = (c & 1) ? out_size - 0.5f : -0.5f, v = (c & 2) ? out_size - 0.5f : -0.5f;
        float x = inv[0] * u + inv[1] * v + inv[2], y = inv[3] * u + inv[4] * v + inv[5];
        xmin = fminf(xmin, x);
        xmax = fmaxf(xmax, x);
        ymin = fminf(ymin, y);
        ymax = fmaxf(ymax, y);
    }
    int pad = 3 * k;
    int x0 = (int)floorf(xmin) - pad, y0 = (int)floorf(ymin) - pad;
    int dw = ((int)ceilf(xmax) + pad - x0) / k + 1, dh = ((int)ceilf(ymax) + pad - y0) / k + 1;
    if ((double)dw * dh > 64e6)
        return -EINVAL; /* absurd transform */
    float *dimg = malloc((size_t)dw * dh * 3 * sizeof(float));
    int *xmap = malloc((size_t)dw * k * sizeof(int));
    if (!dimg || !xmap) {
        free(dimg);
        free(xmap);
        return -ENOMEM;
    }
    for (int i = 0; i < dw * k; i++)
        xmap[i] = border_index(x0 + i, w, reflect);
    float norm = 1.0f / (k * k);
    for (int j = 0; j < dh; j++) {
        float *drow = dimg + (size_t)j * dw * 3;
        memset(drow, 0, (size_t)dw * 3 * sizeof(float));
        for (int yy = 0; yy < k; yy++) {
            const uint8_t *srow = rgb + (size_t)border_index(y0 + j * k + yy, h, reflect) * stride;
            for (int i = 0; i < dw; i++) {
                const int *xm = xmap + (size_t)i * k;
                float r = 0, g = 0, b = 0;
                for (int xx = 0; xx < k; xx++) {
                    const uint8_t *p = srow + 3 * xm[xx];
                    r += p[0];
                    g += p[1];
                    b += p[2];
                }
                drow[3 * i] += r;
                drow[3 * i + 1] += g;
                drow[3 * i + 2] += b;
            }
        }
        for (int i = 0; i < dw * 3; i++)
            drow[i] *= norm;
    }
    /* block (i, j) is centred on image (x0 + k i + (k-1)/2, y0 + k j + (k-1)/2) */
    float off = (k - 1) * 0.5f, rk = 1.0f / k;
    for (int v = 0; v < out_size; v++)
        for (int u = 0; u < out_size; u++) {
            float x = inv[0] * u + inv[1] * v + inv[2], y = inv[3] * u + inv[4] * v + inv[5];
            sample_f32(dimg, dw, dh, (size_t)dw * 3, (x - x0 - off) * rk, (y - y0 - off) * rk, cubic, 0,
                       out + ((size_t)v * out_size + u) * 3);
        }
    free(dimg);
    free(xmap);
    return 0;
}
