/* Face detection (dlib HOG through dlibw) with scaling and retries, and landmarks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "face/dlibw.h"
#include "face/face.h"
#include "face/priv.h"

#define DET_WINDOW 80.0 /* dlib frontal detector's window side in pixels */
#define RETRY_THRESHOLD_DROP 0.4

struct face_detector {
    struct face_detector_params p;
    dlibw_detector *dl;
    uint8_t *buf; /* grey scaled image, grown as needed */
    size_t buf_size;
};

struct face_landmarker {
    dlibw_predictor *sp;
    int mirror; /* also fit the mirrored face and average (steadier, about twice the time) */
};

/* iBUG 68-point index of each point's mirror image */
static const unsigned char mirror_idx[FACE_N_POINTS] = {
    16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0,  /* jaw */
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                             /* brows */
    27, 28, 29, 30, 35, 34, 33, 32, 31,                                 /* nose */
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,                     /* eyes */
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,                     /* outer lips */
    64, 63, 62, 61, 60, 67, 66, 65};                                    /* inner lips */

struct face_detector_params face_detector_params_default(void)
{
    struct face_detector_params p = {.threshold = 0.0, .min_face = 0.0, .retry = 1, .max_side = 1600};
    return p;
}

int face_detector_create(face_detector **out, const struct face_detector_params *p)
{
    *out = NULL;
    face_detector *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->p = p ? *p : face_detector_params_default();
    if (d->p.max_side <= 0)
        d->p.max_side = 1600;
    int r = dlibw_detector_new(&d->dl);
    if (r < 0) {
        free(d);
        return r;
    }
    *out = d;
    return 0;
}

void face_detector_free(face_detector **d)
{
    if (!d || !*d)
        return;
    dlibw_detector_free((*d)->dl);
    free((*d)->buf);
    free(*d);
    *d = NULL;
}

void face_rgb_resize(const uint8_t *rgb, int w, int h, int stride, uint8_t *dst, int dw, int dh)
{
    stride = face_stride(w, stride);
    double sx = (double)w / dw, sy = (double)h / dh;
    if (sx <= 1.0 && sy <= 1.0) { /* enlarge (or same size): bilinear */
        for (int y = 0; y < dh; y++) {
            double fy = (y + 0.5) * sy - 0.5;
            if (fy < 0)
                fy = 0;
            int y0 = (int)fy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
            float ay = (float)(fy - y0);
            const uint8_t *r0 = rgb + (size_t)y0 * stride, *r1 = rgb + (size_t)y1 * stride;
            uint8_t *o = dst + (size_t)y * dw * 3;
            for (int x = 0; x < dw; x++) {
                double fx = (x + 0.5) * sx - 0.5;
                if (fx < 0)
                    fx = 0;
                int x0 = (int)fx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
                float ax = (float)(fx - x0);
                for (int c = 0; c < 3; c++) {
                    float v = (1 - ay) * ((1 - ax) * r0[3 * x0 + c] + ax * r0[3 * x1 + c]) +
                              ay * ((1 - ax) * r1[3 * x0 + c] + ax * r1[3 * x1 + c]);
                    o[3 * x + c] = (uint8_t)(v + 0.5f);
                }
            }
        }
        return;
    }
    /* shrink: average the source pixels each destination pixel covers (integer bounds) */
    for (int y = 0; y < dh; y++) {
        int ya = (int)(y * sy), yb = (int)((y + 1) * sy);
        if (yb <= ya)
            yb = ya + 1;
        if (yb > h)
            yb = h;
        uint8_t *o = dst + (size_t)y * dw * 3;
        for (int x = 0; x < dw; x++) {
            int xa = (int)(x * sx), xb = (int)((x + 1) * sx);
            if (xb <= xa)
                xb = xa + 1;
            if (xb > w)
                xb = w;
            unsigned s[3] = {0, 0, 0};
            for (int yy = ya; yy < yb; yy++) {
                const uint8_t *row = rgb + (size_t)yy * stride + 3 * xa;
                for (int xx = xa; xx < xb; xx++, row += 3) {
                    s[0] += row[0];
                    s[1] += row[1];
                    s[2] += row[2];
                }
            }
            unsigned n = (unsigned)((yb - ya) * (xb - xa));
            for (int c = 0; c < 3; c++)
                o[3 * x + c] = (uint8_t)((s[c] + n / 2) / n);
        }
    }
}

/* One detection pass at scale s (optionally mirrored); boxes in input pixels. */
static int detect_pass(face_detector *d, const uint8_t *rgb, int w, int h, int stride, double s, int mirror,
                       double thr, struct face_box *boxes, int max)
{
    int dw = (int)lround(w * s), dh = (int)lround(h * s);
    if (dw < 1 || dh < 1)
        return 0;
    /* colour, not grey: dlib's HOG takes the strongest channel's gradient, and its boxes
     * then give better landmarks (HELEN NME 0.0269 against 0.0289 from grey) */
    if (dw == w && dh == h && !mirror)
        return dlibw_detect(d->dl, rgb, w, h, face_stride(w, stride), 3, thr, boxes, max);
    size_t need = (size_t)dw * dh * 3;
    if (need > d->buf_size) {
        uint8_t *b = realloc(d->buf, need);
        if (!b)
            return -ENOMEM;
        d->buf = b;
        d->buf_size = need;
    }
    face_rgb_resize(rgb, w, h, stride, d->buf, dw, dh);
    if (mirror) {
        for (int y = 0; y < dh; y++) {
            uint8_t *row = d->buf + (size_t)y * dw * 3;
            for (int a = 0, b = dw - 1; a < b; a++, b--)
                for (int c = 0; c < 3; c++) {
                    uint8_t t = row[3 * a + c];
                    row[3 * a + c] = row[3 * b + c];
                    row[3 * b + c] = t;
                }
        }
    }
    int n = dlibw_detect(d->dl, d->buf, dw, dh, dw * 3, 3, thr, boxes, max);
    double sx = (double)w / dw, sy = (double)h / dh;
    for (int i = 0; i < n; i++) {
        struct face_box b = boxes[i];
        if (mirror) {
            float x0 = dw - b.x1, x1 = dw - b.x0;
            b.x0 = x0;
            b.x1 = x1;
        }
        boxes[i].x0 = (float)(b.x0 * sx);
        boxes[i].x1 = (float)(b.x1 * sx);
        boxes[i].y0 = (float)(b.y0 * sy);
        boxes[i].y1 = (float)(b.y1 * sy);
    }
    return n;
}

static double clamp_scale(const face_detector *d, int w, int h, double s)
{
    int side = w > h ? w : h;
    if (side * s > d->p.max_side)
        s = (double)d->p.max_side / side;
    return s;
}

int face_detect(face_detector *d, const uint8_t *rgb, int w, int h, int stride, double min_face,
                struct face_box *boxes, int max)
{
    if (!d || !rgb || w <= 0 || h <= 0 || max <= 0)
        return -EINVAL;
    if (min_face <= 0)
        min_face = d->p.min_face;
    if (min_face <= 0) {
        int shorter = w < h ? w : h;
        min_face = shorter / 3.0 < DET_WINDOW ? shorter / 3.0 : DET_WINDOW;
        if (min_face < 8)
            min_face = 8;
    }
    double s = clamp_scale(d, w, h, DET_WINDOW / min_face);
    double thr = d->p.threshold;
    int n = detect_pass(d, rgb, w, h, stride, s, 0, thr, boxes, max);
    if (n != 0 || !d->p.retry)
        return n;
    /* nothing: HOG misses faces just under its window and some poses; try larger, then
     * mirrored, then with a lower threshold (the best box only, to keep false alarms rare) */
    double s2 = clamp_scale(d, w, h, s * 2);
    if (s2 > s * 1.2) {
        n = detect_pass(d, rgb, w, h, stride, s2, 0, thr, boxes, max);
        if (n != 0)
            return n;
    }
    n = detect_pass(d, rgb, w, h, stride, s, 1, thr, boxes, max);
    if (n != 0)
        return n;
    n = detect_pass(d, rgb, w, h, stride, s, 0, thr - RETRY_THRESHOLD_DROP, boxes, max);
    return n > 1 ? 1 : n;
}

int face_detect_near(face_detector *d, const uint8_t *rgb, int w, int h, int stride, const struct face_box *near,
                     double threshold, struct face_box *found)
{
    stride = face_stride(w, stride);
    float side = fmaxf(near->x1 - near->x0, near->y1 - near->y0);
    if (!(side > 4))
        return 0;
    /* the box grown by 40% on each side, the face scaled to ~100 px (window 80) */
    int x0 = (int)floorf(near->x0 - 0.4f * side), y0 = (int)floorf(near->y0 - 0.4f * side);
    int x1 = (int)ceilf(near->x1 + 0.4f * side), y1 = (int)ceilf(near->y1 + 0.4f * side);
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > w ? w : x1;
    y1 = y1 > h ? h : y1;
    if (x1 - x0 < 16 || y1 - y0 < 16)
        return 0;
    struct face_box boxes[8];
    double s = 100.0 / side;
    int n = detect_pass(d, rgb + (size_t)y0 * stride + (size_t)x0 * 3, x1 - x0, y1 - y0, stride, s, 0, threshold,
                        boxes, 8);
    if (n <= 0)
        return n;
    boxes[0].x0 += x0;
    boxes[0].x1 += x0;
    boxes[0].y0 += y0;
    boxes[0].y1 += y0;
    *found = boxes[0];
    return 1;
}

int face_landmarker_create(face_landmarker **out, const char *path)
{
    *out = NULL;
    face_landmarker *lm = calloc(1, sizeof(*lm));
    if (!lm)
        return -ENOMEM;
    if (!path)
        path = getenv("GLOWCAM_FACE_PREDICTOR");
    int r = dlibw_predictor_load(&lm->sp, path && *path ? path : FACE_DEFAULT_PREDICTOR);
    if (r < 0) {
        free(lm);
        return r;
    }
    *out = lm;
    return 0;
}

void face_landmarker_free(face_landmarker **lm)
{
    if (!lm || !*lm)
        return;
    dlibw_predictor_free((*lm)->sp);
    free(*lm);
    *lm = NULL;
}

int face_landmarks(const face_landmarker *lm, const uint8_t *rgb, int w, int h, int stride,
                   const struct face_box *box, float pts[FACE_N_POINTS][2])
{
    if (!lm || !rgb || w <= 0 || h <= 0 || !box || box->x1 <= box->x0 || box->y1 <= box->y0)
        return -EINVAL;
    stride = face_stride(w, stride);
    int r = dlibw_predict(lm->sp, rgb, w, h, stride, box, pts);
    if (r < 0 || !lm->mirror)
        return r;
    /* the region the predictor may sample (it stays near the box), copied mirrored */
    float bw = box->x1 - box->x0, bh = box->y1 - box->y0;
    int x0 = (int)floorf(box->x0 - bw), x1 = (int)ceilf(box->x1 + bw);
    int y0 = (int)floorf(box->y0 - bh), y1 = (int)ceilf(box->y1 + bh);
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > w ? w : x1;
    y1 = y1 > h ? h : y1;
    int rw = x1 - x0, rh = y1 - y0;
    if (rw <= 1 || rh <= 1)
        return 0;
    uint8_t *buf = malloc((size_t)rw * rh * 3);
    if (!buf)
        return -ENOMEM;
    for (int y = 0; y < rh; y++) {
        const uint8_t *src = rgb + (size_t)(y0 + y) * stride + (size_t)x0 * 3;
        uint8_t *dst = buf + (size_t)y * rw * 3;
        for (int x = 0; x < rw; x++)
            memcpy(dst + 3 * (rw - 1 - x), src + 3 * x, 3);
    }
    /* image x -> mirrored x' = x0 + rw - 1 - x (relative to the buffer: rw - 1 - (x - x0)) */
    struct face_box mb = {x0 + rw - box->x1, box->y0 - y0, x0 + rw - box->x0, box->y1 - y0, box->score};
    float mp[FACE_N_POINTS][2];
    r = dlibw_predict(lm->sp, buf, rw, rh, rw * 3, &mb, mp);
    free(buf);
    if (r < 0)
        return r;
    for (int i = 0; i < FACE_N_POINTS; i++) {
        const float *q = mp[mirror_idx[i]];
        pts[i][0] = 0.5f * (pts[i][0] + (x0 + rw - 1 - q[0]));
        pts[i][1] = 0.5f * (pts[i][1] + (y0 + q[1]));
    }
    return 0;
}

void face_landmarker_set_mirror(face_landmarker *lm, int on)
{
    lm->mirror = on;
}

/* Mean detector box relative to the landmarks' extent, measured on HELEN with dlib's own
 * boxes (see tests/test_face_landmarks.c): centre offset and size as fractions of the
 * landmark box's width/height. */
#define BOX_CX 0.0f
#define BOX_CY -0.090f
#define BOX_SX 1.045f
#define BOX_SY 1.074f

struct face_box face_box_from_points(const float pts[FACE_N_POINTS][2])
{
    float x0 = pts[0][0], x1 = x0, y0 = pts[0][1], y1 = y0;
    for (int i = 1; i < FACE_N_POINTS; i++) {
        x0 = fminf(x0, pts[i][0]);
        x1 = fmaxf(x1, pts[i][0]);
        y0 = fminf(y0, pts[i][1]);
        y1 = fmaxf(y1, pts[i][1]);
    }
    float lw = x1 - x0, lh = y1 - y0;
    float cx = (x0 + x1) / 2 + BOX_CX * lw, cy = (y0 + y1) / 2 + BOX_CY * lh;
    float side = 0.5f * (BOX_SX * lw + BOX_SY * lh); /* dlib boxes are square */
    struct face_box b = {cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, 0};
    return b;
}

int face_find(face_detector *d, const face_landmarker *lm, const uint8_t *rgb, int w, int h, int stride,
              double min_face, struct face *faces, int max)
{
    struct face_box boxes[64];
    if (max > 64)
        max = 64;
    int n = face_detect(d, rgb, w, h, stride, min_face, boxes, max);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        faces[i].box = boxes[i];
        int r = face_landmarks(lm, rgb, w, h, stride, &boxes[i], faces[i].pts);
        if (r < 0)
            return r;
    }
    return n;
}

int face_largest(const struct face *faces, int n)
{
    int best = -1;
    float area = -1;
    for (int i = 0; i < n; i++) {
        float a = (faces[i].box.x1 - faces[i].box.x0) * (faces[i].box.y1 - faces[i].box.y0);
        if (a > area)
            area = a, best = i;
    }
    return best;
}
