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
    struct face_composite_params p = {.mask = FACE_MASK_HULL, .feather = 0.08f, .color_match = 1.0f,
                                      .detail_gain = 0, .detail_res = 2};
    return p;
}

int face_detail_parse(const char *name, float gain, struct face_composite_params *p)
{
    if (!name || !strcmp(name, "none")) {
        p->detail_gain = 0;
        return 0;
    }
    if (!(gain >= 0 && gain <= 4))
        return -EINVAL;
    if (!strcmp(name, "full") || !strcmp(name, "target"))
        p->detail_res = 1;
    else if (!strcmp(name, "narrow"))
        p->detail_res = 2;
    else
        return -EINVAL;
    p->detail_gain = gain;
    return 0;
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

/* The crop as planes on its own pixel grid: alpha, then Y, Cb, Cr. The frame samples these
 * bilinearly, so the mask is evaluated S*S times, not once per frame pixel, and the colour
 * conversion commutes with the interpolation (both linear). */
struct crop_planes {
    int S;
    float *a, *y[3];
};

static int planes_build(struct crop_planes *P, const uint8_t *crop, int S, const float m[6],
                        const float pts[FACE_N_POINTS][2], const struct face_composite_params *p)
{
    float feather = fmaxf(p->feather * S, 1.0f);
    struct hull H = {0};
    if (p->mask == FACE_MASK_HULL && hull_build(&H, m, pts) < 0)
        return -EINVAL;
    size_t n = (size_t)S * S;
    P->S = S;
    P->a = malloc(n * 4 * sizeof(float));
    if (!P->a)
        return -ENOMEM;
    for (int k = 0; k < 3; k++)
        P->y[k] = P->a + n * (k + 1);
    for (int v = 0; v < S; v++)
        for (int u = 0; u < S; u++) {
            size_t i = (size_t)v * S + u;
            P->a[i] = mask_alpha(p->mask, &H, S, feather, (float)u, (float)v);
            if (crop) {
                float c[3] = {crop[3 * i], crop[3 * i + 1], crop[3 * i + 2]}, y[3];
                to_ycc(c, y);
                for (int k = 0; k < 3; k++)
                    P->y[k][i] = y[k];
            }
        }
    return 0;
}

/* alpha at (u, v), 0 outside the grid; *base and weights returned for the colour planes */
static inline float planes_alpha(const struct crop_planes *P, float u, float v, size_t *base, float w4[4])
{
    int S = P->S;
    if (!(u >= 0 && v >= 0 && u < S - 1 && v < S - 1))
        return 0;
    int x0 = (int)u, y0 = (int)v;
    float ax = u - x0, ay = v - y0;
    size_t i = (size_t)y0 * S + x0;
    w4[0] = (1 - ax) * (1 - ay);
    w4[1] = ax * (1 - ay);
    w4[2] = (1 - ax) * ay;
    w4[3] = ax * ay;
    *base = i;
    const float *a = P->a + i;
    return w4[0] * a[0] + w4[1] * a[1] + w4[2] * a[S] + w4[3] * a[S + 1];
}

static inline float planes_sample(const float *pl, int S, size_t i, const float w4[4])
{
    return w4[0] * pl[i] + w4[1] * pl[i + 1] + w4[2] * pl[i + S] + w4[3] * pl[i + S + 1];
}

/* The frame's rectangle where the mask can be non-zero (the box of the crop's non-zero
 * alpha cells, mapped back). 0, or 1 when empty. */
static int mask_roi(const struct crop_planes *P, int w, int h, const float m[6], int *x0, int *y0, int *x1, int *y1)
{
    float inv[6];
    int S = P->S, u0 = S, u1 = -1, v0 = S, v1 = -1;
    if (face_transform_invert(m, inv) < 0)
        return -EINVAL;
    for (int v = 0; v < S; v++)
        for (int u = 0; u < S; u++)
            if (P->a[(size_t)v * S + u] > 0) {
                u0 = u < u0 ? u : u0;
                u1 = u > u1 ? u : u1;
                v0 = v < v0 ? v : v0;
                v1 = v > v1 ? v : v1;
            }
    if (u1 < 0)
        return 1;
    float xmin = 1e30f, xmax = -1e30f, ymin = 1e30f, ymax = -1e30f;
    for (int c = 0; c < 4; c++) {
        float x, y;
        face_transform_point(inv, (c & 1) ? u1 + 1.0f : u0 - 1.0f, (c & 2) ? v1 + 1.0f : v0 - 1.0f, &x, &y);
        xmin = fminf(xmin, x);
        xmax = fmaxf(xmax, x);
        ymin = fminf(ymin, y);
        ymax = fmaxf(ymax, y);
    }
    *x0 = (int)floorf(fmaxf(xmin, 0));
    *x1 = (int)ceilf(fminf(xmax, (float)(w - 1)));
    *y0 = (int)floorf(fmaxf(ymin, 0));
    *y1 = (int)ceilf(fminf(ymax, (float)(h - 1)));
    return *x1 < *x0 || *y1 < *y0;
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
    struct crop_planes P;
    int r = planes_build(&P, NULL, S, m, pts, p);
    if (r < 0)
        return r;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5], w4[4];
            size_t base;
            float a = planes_alpha(&P, u, v, &base, w4);
            /* 0 exactly where face_composite leaves the pixel alone */
            mask[(size_t)y * w + x] = a <= 0 ? 0 : (uint8_t)(1 + a * 254 + 0.5f);
        }
    free(P.a);
    return 0;
}

/* The frame's luminance over the ROI minus its Gaussian blur: the detail finer than
 * detail_res x the crop's resolution. A crop pixel spans k = 1/sqrt|det m| frame pixels, so
 * the crop's Nyquist period is 2k/res frame pixels; a Gaussian halves amplitude at period
 * P for sigma = 0.187 P. Separable, over the ROI only (edges clamped). NULL on no memory;
 * *empty when the band is below the frame's own resolution. */
static float *detail_band(const uint8_t *frame, int stride, int x0, int y0, int rw, int rh, const float m[6],
                          float res, int *empty)
{
    float det = fabsf(m[0] * m[4] - m[1] * m[3]);
    float k = det > 1e-12f ? 1.0f / sqrtf(det) : 1.0f;
    float sigma = 0.375f * k / (res > 0.25f ? res : 0.25f);
    *empty = sigma < 0.3f; /* the blur would change nothing */
    if (*empty)
        return NULL;
    int rad = (int)ceilf(3 * sigma);
    if (rad > 32)
        rad = 32;
    float g[65], gs = 0;
    for (int i = -rad; i <= rad; i++)
        gs += g[i + rad] = expf(-0.5f * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * rad; i++)
        g[i] /= gs;
    size_t n = (size_t)rw * rh;
    float *yv = malloc(n * 3 * sizeof(float));
    if (!yv)
        return NULL;
    float *tmp = yv + n, *band = yv + 2 * n;
    for (int y = 0; y < rh; y++) {
        const uint8_t *row = frame + (size_t)(y0 + y) * stride + 3 * x0;
        for (int x = 0; x < rw; x++)
            yv[(size_t)y * rw + x] = 0.299f * row[3 * x] + 0.587f * row[3 * x + 1] + 0.114f * row[3 * x + 2];
    }
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            float s = 0;
            for (int i = -rad; i <= rad; i++) {
                int xx = x + i < 0 ? 0 : x + i >= rw ? rw - 1 : x + i;
                s += g[i + rad] * yv[(size_t)y * rw + xx];
            }
            tmp[(size_t)y * rw + x] = s;
        }
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            float s = 0;
            for (int i = -rad; i <= rad; i++) {
                int yy = y + i < 0 ? 0 : y + i >= rh ? rh - 1 : y + i;
                s += g[i + rad] * tmp[(size_t)yy * rw + x];
            }
            band[(size_t)y * rw + x] = yv[(size_t)y * rw + x] - s;
        }
    memmove(yv, band, n * sizeof(float));
    return yv;
}

float *face_detail_layer(const uint8_t *crop, int size, int crop_size, float res)
{
    /* the size crop -> crop_size crop transform: one crop_size pixel spans size / crop_size */
    const float s = (float)crop_size / (float)size, m[6] = {s, 0, 0, 0, s, 0};
    int empty;
    float *d = detail_band(crop, 3 * size, 0, 0, size, size, m, res, &empty);
    return d || !empty ? d : calloc((size_t)size * size, sizeof(float));
}

/* The detail map at crop coordinates (u, v) of a crop_size crop, bilinear, edges clamped
 * (the map is aligned as an n crop: the same transform scaled by n / crop_size, face_align.c). */
static float detail_map_at(const float *map, int n, int crop_size, float u, float v)
{
    const float k = (float)n / (float)crop_size;
    float x = u * k, y = v * k;
    x = x < 0 ? 0 : x > n - 1 ? (float)(n - 1) : x;
    y = y < 0 ? 0 : y > n - 1 ? (float)(n - 1) : y;
    int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < n ? x0 + 1 : x0, y1 = y0 + 1 < n ? y0 + 1 : y0;
    float fx = x - x0, fy = y - y0;
    const float *r0 = map + (size_t)y0 * n, *r1 = map + (size_t)y1 * n;
    return (1 - fy) * ((1 - fx) * r0[x0] + fx * r0[x1]) + fy * ((1 - fx) * r1[x0] + fx * r1[x1]);
}

int face_composite(uint8_t *frame, int w, int h, int stride, const uint8_t *crop, int crop_size, const float m[6],
                   const float pts[FACE_N_POINTS][2], const struct face_composite_params *p)
{
    struct face_composite_params dp = face_composite_params_default();
    if (!p)
        p = &dp;
    int S = crop_size;
    if (!frame || !crop || w <= 0 || h <= 0 || S < 4 || (p->mask == FACE_MASK_HULL && !pts))
        return -EINVAL;
    stride = face_stride(w, stride);
    int x0, y0, x1, y1;
    struct crop_planes P;
    int r = planes_build(&P, crop, S, m, pts, p);
    if (r < 0)
        return r;
    if ((r = mask_roi(&P, w, h, m, &x0, &y0, &x1, &y1)) != 0) {
        free(P.a);
        return r < 0 ? r : 0; /* singular, or entirely outside the frame */
    }

    /* colour statistics over the face's inner part (alpha >= 0.5), every other pixel */
    double sf[3] = {0}, sf2[3] = {0}, sc[3] = {0}, sc2[3] = {0}, ns = 0;
    for (int y = y0; y <= y1; y += 2) {
        const uint8_t *row = frame + (size_t)y * stride;
        for (int x = x0; x <= x1; x += 2) {
            float u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5], w4[4];
            size_t b;
            if (planes_alpha(&P, u, v, &b, w4) < 0.5f)
                continue;
            float f[3] = {row[3 * x], row[3 * x + 1], row[3 * x + 2]}, yf[3];
            to_ycc(f, yf);
            for (int k = 0; k < 3; k++) {
                float c = planes_sample(P.y[k], S, b, w4);
                sf[k] += yf[k];
                sf2[k] += (double)yf[k] * yf[k];
                sc[k] += c;
                sc2[k] += (double)c * c;
            }
            ns++;
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
    /* the source's own fine detail, taken before the paste overwrites it (or a given map's) */
    float *band = NULL;
    int rw = x1 - x0 + 1, empty = 1;
    const float *map = p->detail_gain > 0 && p->detail_map && p->detail_map_size > 0 ? p->detail_map : NULL;
    if (p->detail_gain > 0 && !map) {
        band = detail_band(frame, stride, x0, y0, rw, y1 - y0 + 1, m, p->detail_res, &empty);
        if (!band && !empty) {
            free(P.a);
            return -ENOMEM;
        }
    }
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = frame + (size_t)y * stride;
        float u = m[0] * x0 + m[1] * y + m[2], v = m[3] * x0 + m[4] * y + m[5];
        for (int x = x0; x <= x1; x++, u += m[0], v += m[3]) {
            float w4[4];
            size_t b;
            float a = planes_alpha(&P, u, v, &b, w4);
            if (a <= 0)
                continue; /* never written: bit-identical outside the mask */
            float yc[3], c[3];
            for (int k = 0; k < 3; k++)
                yc[k] = planes_sample(P.y[k], S, b, w4) * gain[k] + off[k];
            if (band) /* Y's coefficient is 1 in every RGB channel */
                yc[0] += p->detail_gain * band[(size_t)(y - y0) * rw + (x - x0)];
            else if (map)
                yc[0] += p->detail_gain * detail_map_at(map, p->detail_map_size, S, u, v);
            from_ycc(yc, c);
            uint8_t *q = row + 3 * x;
            for (int k = 0; k < 3; k++) {
                float val = q[k] + a * (c[k] - q[k]);
                q[k] = val <= 0 ? 0 : val >= 255 ? 255 : (uint8_t)(val + 0.5f);
            }
        }
    }
    free(band);
    free(P.a);
    return 0;
}
