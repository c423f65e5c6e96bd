/* Face tracking across frames: detection now and then, landmarks every frame from the
 * previous frame's points, a one-euro filter per point, stable ids. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/gc.h"
#include "face/face.h"
#include "face/priv.h"

#define MAX_TRACKS 32
/* HOG score a tracked face must reach near its last place (below dlib's 0: we know a face
 * was there, and a turned or blurred one scores lower) */
#define VERIFY_THRESHOLD (-0.5)

struct one_euro {
    float x, dx; /* filtered value and filtered speed (units per second) */
};

/* luminance samples over a track's box, taken when its landmarks were last fitted */
#define SNAP_N 16

struct track {
    int id, age, missed, since_verify;
    struct face_box box;
    float raw[FACE_N_POINTS][2];
    struct one_euro f[FACE_N_POINTS][2];
    float out[FACE_N_POINTS][2];
    float dt;                       /* seconds since the filter's last step */
    int steps;                      /* frames since the filter's last step */
    int held;                       /* this frame: landmarks kept, the face region did not change */
    struct face_box snap_box;
    float snap[SNAP_N * SNAP_N];
};

struct face_tracker {
    struct face_tracker_params p;
    face_detector *det;
    const face_landmarker *lm;
    struct track tr[MAX_TRACKS];
    int n, next_id;
    int since_detect;
    int searching; /* frames left of frequent full detections after a face was lost */
    int detect_now; /* the first frame after create or reset: a full detection at once */
    double t_prev;
    int have_t;
    struct face_tracker_stats st;
};

struct face_tracker_params face_tracker_params_default(void)
{
    struct face_tracker_params p = {
        .detect_interval = 30,
        .verify_interval = 3,
        .detect_min_face = 0,
        .min_cutoff = 1.0,
        .beta = 5.0,
        .d_cutoff = 1.0,
        .max_faces = 8,
        .max_missed = 1,
        .hold_change = 0.5,
    };
    return p;
}

int face_tracker_create(face_tracker **out, face_detector *d, const face_landmarker *lm,
                        const struct face_tracker_params *p)
{
    *out = NULL;
    if (!d || !lm)
        return -EINVAL;
    face_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->p = p ? *p : face_tracker_params_default();
    if (t->p.detect_interval < 1)
        t->p.detect_interval = 1;
    if (t->p.verify_interval < 1)
        t->p.verify_interval = 1;
    if (t->p.max_faces < 1 || t->p.max_faces > MAX_TRACKS)
        t->p.max_faces = t->p.max_faces < 1 ? 1 : MAX_TRACKS;
    t->det = d;
    t->lm = lm;
    t->next_id = 1;
    t->detect_now = 1;
    *out = t;
    return 0;
}

void face_tracker_free(face_tracker **t)
{
    if (!t || !*t)
        return;
    free(*t);
    *t = NULL;
}

void face_tracker_reset(face_tracker *t)
{
    t->n = 0;
    t->since_detect = 0;
    t->searching = 0;
    t->have_t = 0;
    t->detect_now = 1; /* else a second pass over a clip would miss its first frames */
}

void face_tracker_get_stats(const face_tracker *t, struct face_tracker_stats *s)
{
    *s = t->st;
}

static float box_iou(const struct face_box *a, const struct face_box *b)
{
    float ix = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0), iy = fminf(a->y1, b->y1) - fmaxf(a->y0, b->y0);
    if (ix <= 0 || iy <= 0)
        return 0;
    float i = ix * iy, u = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - i;
    return u > 0 ? i / u : 0;
}

/* outer eye corners: the face's scale for the filter's speed term */
static float face_scale(const float pts[FACE_N_POINTS][2])
{
    float s = hypotf(pts[45][0] - pts[36][0], pts[45][1] - pts[36][1]);
    return s > 1 ? s : 1;
}

static float alpha(float cutoff, float dt)
{
    float tau = 1.0f / (2.0f * (float)M_PI * cutoff);
    return 1.0f / (1.0f + tau / dt);
}

/* One-euro filter (Casiez et al. 2012): a low-pass whose cutoff rises with speed, so a
 * still face is smoothed hard and a moving one follows with little lag. Speeds are in
 * face sizes per second, so the same parameters hold at any face size. */
static void filter_points(const struct face_tracker_params *p, struct track *tr, float dt, int first)
{
    float scale = face_scale(tr->raw);
    for (int i = 0; i < FACE_N_POINTS; i++)
        for (int c = 0; c < 2; c++) {
            struct one_euro *f = &tr->f[i][c];
            float x = tr->raw[i][c];
            if (first) {
                f->x = x;
                f->dx = 0;
                continue;
            }
            float dx = (x - f->x) / dt;
            f->dx += alpha((float)p->d_cutoff, dt) * (dx - f->dx);
            float cutoff = (float)p->min_cutoff + (float)p->beta * fabsf(f->dx) / scale;
            f->x += alpha(cutoff, dt) * (x - f->x);
        }
    for (int i = 0; i < FACE_N_POINTS; i++) {
        tr->out[i][0] = tr->f[i][0].x;
        tr->out[i][1] = tr->f[i][1].x;
    }
}

/* Luminance on a SNAP_N x SNAP_N grid of cell centres over box b (clamped to the frame). */
static void snap_take(const uint8_t *rgb, int w, int h, int stride, const struct face_box *b, float *out)
{
    float bw = (b->x1 - b->x0) / SNAP_N, bh = (b->y1 - b->y0) / SNAP_N;
    for (int j = 0; j < SNAP_N; j++) {
        int y = (int)(b->y0 + (j + 0.5f) * bh);
        y = y < 0 ? 0 : y >= h ? h - 1 : y;
        for (int i = 0; i < SNAP_N; i++) {
            int x = (int)(b->x0 + (i + 0.5f) * bw);
            x = x < 0 ? 0 : x >= w ? w - 1 : x;
            const uint8_t *q = rgb + (size_t)y * stride + 3 * x;
            out[j * SNAP_N + i] = 0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2];
        }
    }
}

/* Mean |change| of the track's face region (0..255 luminance) since its snapshot. */
static float snap_change(const struct track *tr, const uint8_t *rgb, int w, int h, int stride)
{
    float now[SNAP_N * SNAP_N], s = 0;
    snap_take(rgb, w, h, stride, &tr->snap_box, now);
    for (int i = 0; i < SNAP_N * SNAP_N; i++)
        s += fabsf(now[i] - tr->snap[i]);
    return s / (SNAP_N * SNAP_N);
}

/* Landmarks of a track in this frame from its last points; 0 ok, 1 lost, <0 error. */
static int follow(face_tracker *t, struct track *tr, const uint8_t *rgb, int w, int h, int stride)
{
    struct face_box b = face_box_from_points(tr->raw);
    float prev_scale = face_scale(tr->raw), pts[FACE_N_POINTS][2];
    int r = face_landmarks(t->lm, rgb, w, h, stride, &b, pts);
    if (r < 0)
        return r;
    /* a face that left the frame or collapsed: let detection find it again */
    float cx = 0.5f * (b.x0 + b.x1), cy = 0.5f * (b.y0 + b.y1), ratio = face_scale(pts) / prev_scale;
    if (cx < 0 || cy < 0 || cx >= w || cy >= h || ratio < 0.7f || ratio > 1.4f)
        return 1;
    memcpy(tr->raw, pts, sizeof(pts));
    tr->box = b;
    return 0;
}

/* CPU time of this thread: stage timings that hold on a loaded machine */
static double cpu_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_id(const void *a, const void *b)
{
    return ((const struct track *)a)->id - ((const struct track *)b)->id;
}

int face_tracker_update(face_tracker *t, const uint8_t *rgb, int w, int h, int stride, double time_s,
                        struct face_track *out, int max)
{
    if (!t || !rgb || w <= 0 || h <= 0)
        return -EINVAL;
    stride = face_stride(w, stride);
    if (time_s < 0)
        time_s = t->st.frames / 30.0;
    float dt = t->have_t ? (float)(time_s - t->t_prev) : 1.0f / 30;
    if (!(dt > 1e-4f) || dt > 1.0f)
        dt = 1.0f / 30; /* a seek or broken timestamps: treat as the next frame */
    t->t_prev = time_s;
    t->have_t = 1;
    t->st.frames++;
    int r, lost = 0;

    /* 1. follow every track from its last landmarks. A face region that has not changed
     * since the filter's last step (a repeated frame, a still picture) keeps its output
     * points (step 5): the filter's catching up would move the face where the image did
     * not. Its raw points are fitted again all the same: a second fit on the same picture
     * converges, and on fast motion the next frame needs that start (else lp_d12 loses it). */
    double t0 = cpu_time();
    int fresh[MAX_TRACKS] = {0};
    for (int i = 0; i < t->n; i++) {
        struct track *tr = &t->tr[i];
        tr->dt = fminf(tr->dt + dt, 1.0f);
        tr->steps++;
        tr->held = t->p.hold_change > 0 && snap_change(tr, rgb, w, h, stride) < t->p.hold_change;
        t->st.held += tr->held;
        if ((r = follow(t, tr, rgb, w, h, stride)) < 0)
            return r;
        if (r == 1) { /* lost: drop it */
            t->tr[i] = t->tr[--t->n];
            i--;
            lost = 1;
        }
    }
    t->st.landmark_s += cpu_time() - t0;

    /* 2. now and then, check each face is still there: detection near it only */
    t0 = cpu_time();
    for (int i = 0; i < t->n; i++) {
        struct track *tr = &t->tr[i];
        if (++tr->since_verify < t->p.verify_interval)
            continue;
        tr->since_verify = 0;
        struct face_box found;
        r = face_detect_near(t->det, rgb, w, h, stride, &tr->box, VERIFY_THRESHOLD, &found);
        t->st.checks++;
        if (r < 0)
            return r;
        if (r == 1 && box_iou(&found, &tr->box) > 0.3f) {
            tr->missed = 0;
        } else if (++tr->missed > t->p.max_missed) {
            t->tr[i] = t->tr[--t->n];
            i--;
            lost = 1;
        }
    }
    t->st.detect_s += cpu_time() - t0;

    /* 3. full-frame detection for new faces: seldom while tracking, often when nothing is
     * tracked or a face was just lost */
    if (lost)
        t->searching = 30; /* about a second of looking for it often */
    else if (t->searching > 0)
        t->searching--;
    int interval = t->n == 0 || t->searching > 0 ? t->p.verify_interval : t->p.detect_interval;
    if (t->detect_now)
        interval = 1;
    t->detect_now = 0;
    if (++t->since_detect >= interval) {
        t->since_detect = 0;
        double min_face = t->p.detect_min_face;
        if (min_face <= 0)
            min_face = (w < h ? w : h) / 5.0;
        struct face_box boxes[MAX_TRACKS];
        t0 = cpu_time();
        int n = face_detect(t->det, rgb, w, h, stride, min_face, boxes, MAX_TRACKS);
        t->st.detect_s += cpu_time() - t0;
        t->st.detections++;
        if (n < 0)
            return n;
        t0 = cpu_time();
        for (int k = 0; k < n && t->n < t->p.max_faces; k++) {
            int overlaps = 0;
            for (int i = 0; i < t->n; i++) {
                float iou = box_iou(&t->tr[i].box, &boxes[k]);
                if (iou > 0.3f)
                    t->tr[i].missed = 0; /* seen: counts as a check passed */
                overlaps |= iou > 0.1f;
            }
            if (overlaps)
                continue;
            struct track *tr = &t->tr[t->n];
            memset(tr, 0, sizeof(*tr));
            if ((r = face_landmarks(t->lm, rgb, w, h, stride, &boxes[k], tr->raw)) < 0)
                return r;
            /* one more fit from the box the points imply, the box every later frame uses */
            struct face_box b = face_box_from_points(tr->raw);
            if ((r = face_landmarks(t->lm, rgb, w, h, stride, &b, tr->raw)) < 0)
                return r;
            tr->box = b;
            tr->id = t->next_id++;
            fresh[t->n] = 1;
            t->n++;
        }
        t->st.landmark_s += cpu_time() - t0;
    }

    /* 4. two tracks on one face (after a miss and a re-find): keep the older */
    for (int i = 0; i < t->n; i++)
        for (int k = i + 1; k < t->n; k++)
            if (box_iou(&t->tr[i].box, &t->tr[k].box) > 0.5f) {
                int drop = t->tr[i].id > t->tr[k].id ? i : k;
                t->tr[drop] = t->tr[--t->n];
                fresh[drop] = fresh[t->n];
                k = i; /* rescan */
            }

    for (int i = 0; i < t->n; i++) {
        struct track *tr = &t->tr[i];
        int first = fresh[i] || tr->age == 0;
        if (first || !tr->held) {
            /* after held frames, one filter step per frame that passed, all with this
             * frame's points: the same lag as if every frame had been seen */
            int steps = first || tr->steps < 1 ? 1 : tr->steps > 30 ? 30 : tr->steps;
            for (int k = 0; k < steps; k++)
                filter_points(&t->p, tr, first ? dt : tr->dt / steps, first);
            tr->dt = 0;
            tr->steps = 0;
            tr->held = 0;
            tr->snap_box = tr->box;
            snap_take(rgb, w, h, stride, &tr->snap_box, tr->snap);
        }
        tr->age++;
    }
    qsort(t->tr, (size_t)t->n, sizeof(t->tr[0]), cmp_id);
    int n = t->n < max ? t->n : max;
    for (int i = 0; i < n; i++) {
        out[i].id = t->tr[i].id;
        out[i].box = t->tr[i].box;
        out[i].age = t->tr[i].age;
        memcpy(out[i].pts, t->tr[i].out, sizeof(out[i].pts));
        memcpy(out[i].raw, t->tr[i].raw, sizeof(out[i].raw));
        out[i].held = t->tr[i].held;
    }
    return n;
}
