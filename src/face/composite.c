/* Compositing: the (decoded) crop warped back into the frame through a feathered mask,
 * with its colour mean and spread matched to the frame's face in YCbCr. Pixels where the
 * mask is zero are never written. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "face/face.h"
#include "face/priv.h"

struct face_composite_params face_composite_params_default(void)
{
    struct face_composite_params p = {.mask = FACE_MASK_HULL, .feather = 0.08f, .color_match = 1.0f};
    return p;
}

#define MAX_HULL (FACE_N_POINTS + 10)

/* Andrew's monotone chain; pts are modified (sorted). Returns the hull size, counter-clockwise
 * in a y-up sense (clockwise on screen); the orientation is checked by the caller. */
static int cmp_pt(const void *a, const void *b)
{
    const float *p = a, *q = b;
    if (p[0] != q[0])
        return p[0] < q[0] ? -1 : 1;
    return (p[1] > q[1]) - (p[1] < q[1]);
}

static float cross(const float *o, const float *a, const float *b)
{
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

static int convex_hull(float (*p)[2], int n, float (*h)[2])
{
    qsort(p, (size_t)n, sizeof(p[0]), cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0)
            k--;
        h[k][0] = p[i][0];
        h[k][1] = p[i][1];
        k++;
    }
    for (int i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0)
            k--;
        h[k][0] = p[i][0];
        h[k][1] = p[i][1];
        k++;
    }
    return k - 1;
}

/* A convex polygon as edge lines a*u + b*v + c >= 0 inside, (a, b) unit length. */
struct hull {
    int n, nv;
    float a[MAX_HULL], b[MAX_HULL], c[MAX_HULL];
    float v[MAX_HULL][2]; /* the vertices */
};

static int hull_build(struct hull *H, const float m[6], const float pts[FACE_N_POINTS][2])
{
    float p[MAX_HULL][2], h[2 * MAX_HULL][2];
    int n = 0;
    for (int i = 0; i < FACE_N_POINTS; i++, n++)
        face_transform_point(m, pts[i][0], pts[i][1], &p[n][0], &p[n][1]);
    /* the landmarks stop at the brows: grow the brow points away from the chin to cover the
     * forehead's lower part */
    for (int i = 17; i <= 26; i++, n++) {
        p[n][0] = p[i][0] + 0.25f * (p[i][0] - p[8][0]);
        p[n][1] = p[i][1] + 0.25f * (p[i][1] - p[8][1]);
    }
    int k = convex_hull(p, n, h);
    if (k < 3)
        return -EINVAL;
    /* orientation: make the centroid of the hull lie on the inside of every edge */
    float cx = 0, cy = 0;
    for (int i = 0; i < k; i++) {
        cx += h[i][0];
        cy += h[i][1];
    }
    cx /= k;
    cy /= k;
    H->n = 0;
    H->nv = k < MAX_HULL ? k : MAX_HULL;
    memcpy(H->v, h, (size_t)H->nv * sizeof(h[0]));
    for (int i = 0; i < k; i++) {
        const float *s = h[i], *e = h[(i + 1) % k];
        float a = -(e[1] - s[1]), b = e[0] - s[0], l = hypotf(a, b);
        if (l < 1e-6f)
            continue;
        a /= l;
        b /= l;
        float c = -(a * s[0] + b * s[1]);
        if (a * cx + b * cy + c < 0) {
            a = -a;
            b = -b;
            c = -c;
        }
        H->a[H->n] = a;
        H->b[H->n] = b;
        H->c[H->n] = c;
        H->n++;
    }
    return H->n >= 3 ? 0 : -EINVAL;
}

/* distance inside the convex polygon (negative outside) */
static inline float hull_depth(const struct hull *H, float u, float v)
{
    float d = 1e30f;
    for (int i = 0; i < H->n; i++) {
        float e = H->a[i] * u + H->b[i] * v + H->c[i];
        if (e < d)
            d = e;
    }
    return d;
}

static inline float smooth01(float x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    return x * x * (3 - 2 * x);
}

/* BT.601 full-range YCbCr: a linear, exactly invertible space where brightness and
 * colour separate (JPEG's) */
static inline void to_ycc(const float *rgb, float *y)
{
    y[0] = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
    y[1] = -0.168736f * rgb[0] - 0.331264f * rgb[1] + 0.5f * rgb[2];
    y[2] = 0.5f * rgb[0] - 0.418688f * rgb[1] - 0.081312f * rgb[2];
}

static inline void from_ycc(const float *y, float *rgb)
{
    rgb[0] = y[0] + 1.402f * y[2];
    rgb[1] = y[0] - 0.344136f * y[1] - 0.714136f * y[2];
    rgb[2] = y[0] + 1.772f * y[1];
}

static inline void sample_crop(const uint8_t *crop, int S, float u, float v, float out[3])
{
    /* bilinear with edge clamp; the mask keeps us a feather's width inside anyway */
    if (u < 0)
        u = 0;
    if (v < 0)
        v = 0;
    if (u > S - 1)
        u = (float)(S - 1);
    if (v > S - 1)
        v = (float)(S - 1);
    int x0 = (int)u, y0 = (int)v;
    int x1 = x0 + 1 < S ? x0 + 1 : S - 1, y1 = y0 + 1 < S ? y0 + 1 : S - 1;
    float ax = u - x0, ay = v - y0;
    const uint8_t *a = crop + ((size_t)y0 * S + x0) * 3, *b = crop + ((size_t)y0 * S + x1) * 3;
    const uint8_t *c = crop + ((size_t)y1 * S + x0) * 3, *d = crop + ((size_t)y1 * S + x1) * 3;
    for (int k = 0; k < 3; k++)
        out[k] = (1 - ay) * ((1 - ax) * a[k] + ax * b[k]) + ay * ((1 - ax) * c[k] + ax * d[k]);
}

/* The blend weight at crop position (u, v): inside the crop by a feather's width (it has
 * no data beyond), times the feathered mask. */
static float mask_alpha(enum face_mask kind, const struct hull *H, int S, float feather, float u, float v)
{
    float edge = fminf(fminf(u, v), fminf(S - 1 - u, S - 1 - v));
    float a = smooth01(edge / feather);
    if (a <= 0)
        return 0;
    if (kind == FACE_MASK_HULL)
        return a * smooth01(hull_depth(H, u, v) / feather);
    float half = 0.5f * (S - 1), r = 0.45f * S, du = (u - half) / r, dv = (v - half) / r;
    return a * smooth01((1 - sqrtf(du * du + dv * dv)) * r / feather);
}

int face_composite_mask(uint8_t *mask, int w, int h, int crop_size, const float m[6],
                        const float pts[FACE_N_POINTS][2], const struct face_composite_params *p)
{
    struct face_composite_params dp = face_composite_params_default();
    if (!p)
        p = &dp;
    int S = crop_size;
    if (!mask || w <= 0 || h <= 0 || S < 4 || (p->mask == FACE_MASK_HULL && !pts))
        return -EINVAL;
    float feather = fmaxf(p->feather * S, 1.0f);
    struct hull H = {0};
    if (p->mask == FACE_MASK_HULL && hull_build(&H, m, pts) < 0)
        return -EINVAL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5];
            float a = mask_alpha(p->mask, &H, S, feather, u, v);
            /* 0 exactly where face_composite leaves the pixel alone */
            mask[(size_t)y * w + x] = a <= 0 ? 0 : (uint8_t)(1 + a * 254 + 0.5f);
        }
    return 0;
}

int face_composite(uint8_t *frame, int w, int h, int stride, const uint8_t *crop, int crop_size, const float m[6],
                   const float pts[FACE_N_POINTS][2], const struct face_composite_params *p)
{
    struct face_composite_params dp = face_composite_params_default();
    if (!p)
        p = &dp;
    float inv[6];
    int S = crop_size;
    if (!frame || !crop || w <= 0 || h <= 0 || S < 4 || face_transform_invert(m, inv) < 0)
        return -EINVAL;
    if (p->mask == FACE_MASK_HULL && !pts)
        return -EINVAL;
    stride = face_stride(w, stride);
    float feather = fmaxf(p->feather * S, 1.0f);
    struct hull H = {0};
    if (p->mask == FACE_MASK_HULL && hull_build(&H, m, pts) < 0)
        return -EINVAL;

    /* where the mask can be non-zero: the crop's footprint in the frame, or the hull's */
    float xmin = 1e30f, xmax = -1e30f, ymin = 1e30f, ymax = -1e30f;
    for (int c = 0; c < 4; c++) {
        float x, y;
        face_transform_point(inv, (c & 1) ? (float)S : -1.0f, (c & 2) ? (float)S : -1.0f, &x, &y);
        xmin = fminf(xmin, x);
        xmax = fmaxf(xmax, x);
        ymin = fminf(ymin, y);
        ymax = fmaxf(ymax, y);
    }
    if (p->mask == FACE_MASK_HULL) {
        float hx0 = 1e30f, hx1 = -1e30f, hy0 = 1e30f, hy1 = -1e30f;
        for (int i = 0; i < H.nv; i++) {
            float x, y;
            face_transform_point(inv, H.v[i][0], H.v[i][1], &x, &y);
            hx0 = fminf(hx0, x);
            hx1 = fmaxf(hx1, x);
            hy0 = fminf(hy0, y);
            hy1 = fmaxf(hy1, y);
        }
        xmin = fmaxf(xmin, hx0 - 1);
        xmax = fminf(xmax, hx1 + 1);
        ymin = fmaxf(ymin, hy0 - 1);
        ymax = fminf(ymax, hy1 + 1);
    }
    int x0 = (int)floorf(fmaxf(xmin, 0)), x1 = (int)ceilf(fminf(xmax, (float)(w - 1)));
    int y0 = (int)floorf(fmaxf(ymin, 0)), y1 = (int)ceilf(fminf(ymax, (float)(h - 1)));
    if (x1 < x0 || y1 < y0)
        return 0; /* entirely outside the frame */
    int rw = x1 - x0 + 1, rh = y1 - y0 + 1;
    /* per ROI pixel: alpha and the crop's colour there (YCbCr) */
    float *alpha = malloc((size_t)rw * rh * sizeof(float));
    float *cy = malloc((size_t)rw * rh * 3 * sizeof(float));
    if (!alpha || !cy) {
        free(alpha);
        free(cy);
        return -ENOMEM;
    }
    double sf[3] = {0}, sf2[3] = {0}, sc[3] = {0}, sc2[3] = {0}, ns = 0;
    for (int y = y0; y <= y1; y++) {
        const uint8_t *row = frame + (size_t)y * stride;
        for (int x = x0; x <= x1; x++) {
            size_t i = (size_t)(y - y0) * rw + (x - x0);
            float u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5];
            float a = mask_alpha(p->mask, &H, S, feather, u, v);
            alpha[i] = a;
            if (a <= 0)
                continue;
            float c[3], f[3] = {row[3 * x], row[3 * x + 1], row[3 * x + 2]}, yf[3];
            sample_crop(crop, S, u, v, c);
            to_ycc(c, cy + 3 * i);
            if (a >= 0.5f) { /* colour statistics over the face's inner part */
                to_ycc(f, yf);
                for (int k = 0; k < 3; k++) {
                    sf[k] += yf[k];
                    sf2[k] += (double)yf[k] * yf[k];
                    sc[k] += cy[3 * i + k];
                    sc2[k] += (double)cy[3 * i + k] * cy[3 * i + k];
                }
                ns++;
            }
        }
    }
    /* colour match: shift and scale each YCbCr channel of the crop towards the frame's */
    float gain[3] = {1, 1, 1}, off[3] = {0, 0, 0};
    if (ns > 16 && p->color_match > 0) {
        float cm = fminf(p->color_match, 1.0f);
        for (int k = 0; k < 3; k++) {
            double mf = sf[k] / ns, mc = sc[k] / ns;
            double vf = fmax(sf2[k] / ns - mf * mf, 0), vc = fmax(sc2[k] / ns - mc * mc, 0);
            double g = vc > 1 ? sqrt(vf / vc) : 1;
            g = g < 0.5 ? 0.5 : g > 2 ? 2 : g;
            gain[k] = (float)(1 + cm * (g - 1));
            /* y' = (y - mc) * gain + mc + cm (mf - mc) */
            off[k] = (float)(mc + cm * (mf - mc) - mc * gain[k]);
        }
    }
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = frame + (size_t)y * stride;
        for (int x = x0; x <= x1; x++) {
            size_t i = (size_t)(y - y0) * rw + (x - x0);
            float a = alpha[i];
            if (a <= 0)
                continue;
            float yc[3], c[3];
            for (int k = 0; k < 3; k++)
                yc[k] = cy[3 * i + k] * gain[k] + off[k];
            from_ycc(yc, c);
            uint8_t *q = row + 3 * x;
            for (int k = 0; k < 3; k++) {
                float v = q[k] + a * (c[k] - q[k]);
                q[k] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
            }
        }
    }
    free(alpha);
    free(cy);
    return 0;
}
