/* face: detection, 68 landmarks, alignment, tracking and compositing of faces.
 *
 *   face_detector *det = NULL;    face_landmarker *lm = NULL;
 *   if (face_detector_create(&det, NULL) < 0 ||            // dlib HOG, default params
 *       face_landmarker_create(&lm, NULL) < 0) ...;        // NULL: FACE_DEFAULT_PREDICTOR
 *   struct face faces[8];
 *   int n = face_find(det, lm, rgb, w, h, 0, 0, faces, 8); // detect + landmarks
 *   float m[6];
 *   face_align_transform(FACE_RECIPE_OPENAI_EYES, faces[0].pts, 64, m);
 *   uint8_t crop[64 * 64 * 3];
 *   face_warp(rgb, w, h, 0, m, crop, 64, 0);               // aligned 64x64 crop
 *   ... glow encode / transfer / decode crop -> out ...
 *   struct face_composite_params cp = face_composite_params_default();
 *   face_composite(rgb, w, h, 0, out, 64, m, faces[0].pts, &cp); // paste back in place
 *
 * Video: a tracker detects only every few frames (or when a face is lost), runs the
 * landmarks every frame and smooths them with a one-euro filter:
 *
 *   face_tracker *t = NULL;
 *   struct face_tracker_params tp = face_tracker_params_default();
 *   face_tracker_create(&t, det, lm, &tp);                 // borrows det and lm
 *   struct face_track tr[8];
 *   int n = face_tracker_update(t, rgb, w, h, 0, pts_seconds, tr, 8);
 *
 * Images: packed RGB24 (R first), `stride` bytes per row, 0 meaning w*3.
 * Points: pixel coordinates with pixel centres at integers (dlib's and OpenCV's
 * convention). Transforms: float m[6] maps a source pixel (x, y) to the crop pixel
 * (u, v) = (m[0]x + m[1]y + m[2], m[3]x + m[4]y + m[5]).
 *
 * Threads: a face_landmarker is read-only after creation and may be shared by any
 * number of threads; a face_detector and a face_tracker belong to one thread at a time.
 * Ownership: create/free pairs; *_free is NULL-safe and sets the pointer to NULL.
 * The tracker borrows the detector and landmarker, which must outlive it.
 * Errors: negative errno-style codes, logged with gc_log where understood.
 */
#ifndef FACE_H
#define FACE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FACE_N_POINTS 68
#define FACE_DEFAULT_PREDICTOR "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

/* A detection: box in pixels ([x0, x1) x [y0, y1)), dlib's HOG score (higher = surer). */
struct face_box {
    float x0, y0, x1, y1;
    float score;
};

/* A face found in an image. */
struct face {
    struct face_box box;
    float pts[FACE_N_POINTS][2]; /* iBUG 68-point order: 36-41 image-left eye, 42-47 image-right eye */
};

/* ---- detection (dlib HOG frontal face detector) ---- */

struct face_detector_params {
    double threshold; /* HOG score threshold, default 0 (dlib's default), -1..2: lower finds more */
    double min_face;  /* smallest face side to find, in input pixels; the image is scaled by
                         80/min_face before detection (dlib's window is 80 px). 0 = auto:
                         min(80, shorter side / 3), so small crops are upsampled. */
    int retry;        /* 1 (default): when nothing is found, try again upsampled x2 and on the
                         mirrored image; 0: one pass */
    int max_side;     /* cap on the scaled image's longer side (speed guard), default 1600 */
};
struct face_detector_params face_detector_params_default(void);

typedef struct face_detector face_detector;
int face_detector_create(face_detector **out, const struct face_detector_params *p); /* p NULL: defaults */
void face_detector_free(face_detector **d);
/* Detects faces; returns how many (at most max, best score first) or <0.
 * min_face > 0 overrides the detector's min_face for this call. */
int face_detect(face_detector *d, const uint8_t *rgb, int w, int h, int stride, double min_face,
                struct face_box *boxes, int max);

/* ---- landmarks (dlib 68-point shape predictor) ---- */

typedef struct face_landmarker face_landmarker;
/* path NULL: $GLOWCAM_FACE_PREDICTOR if set, else FACE_DEFAULT_PREDICTOR. A missing or corrupt file: logged error naming it, -ENOENT/-EINVAL. */
int face_landmarker_create(face_landmarker **out, const char *path);
void face_landmarker_free(face_landmarker **lm);
/* on: each fit also runs on the mirrored face and the two are averaged: lower error and
 * jitter, twice the time. Off by default; set it before sharing lm between threads. */
void face_landmarker_set_mirror(face_landmarker *lm, int on);
/* 68 points for the face in box (a detector box, or one from face_box_from_points). */
int face_landmarks(const face_landmarker *lm, const uint8_t *rgb, int w, int h, int stride,
                   const struct face_box *box, float pts[FACE_N_POINTS][2]);
/* The detector-like box for a set of landmarks (to track without detecting). */
struct face_box face_box_from_points(const float pts[FACE_N_POINTS][2]);

/* Detect then landmarks for each face (best score first); returns the count or <0. */
int face_find(face_detector *d, const face_landmarker *lm, const uint8_t *rgb, int w, int h,
              int stride, double min_face, struct face *faces, int max);
/* Index of the largest face (box area; the first of equals), -1 if n <= 0: the one a photo is
 * about. */
int face_largest(const struct face *faces, int n);

/* ---- alignment ---- */

enum face_recipe {
    FACE_RECIPE_OPENAI_EYES, /* OpenAI Glow demo (imutils FaceAligner): similarity from the eye
                                centres; image-left eye (36-41) at (0.371, 0.480) of the crop,
                                image-right eye (42-47) at (0.629, 0.480) */
    FACE_RECIPE_FFHQ_QUAD,   /* FFHQ/CelebA-HQ oriented quad from eyes and mouth corners */
};
/* "openai-eyes" / "ffhq-quad" (the model's `alignment` metadata); -EINVAL otherwise. */
int face_recipe_parse(const char *name, enum face_recipe *out);
const char *face_recipe_name(enum face_recipe r);

/* The transform from image pixels to a out_size x out_size crop. 0 or -EINVAL (degenerate points). */
int face_align_transform(enum face_recipe r, const float pts[FACE_N_POINTS][2], int out_size, float m[6]);
/* inv = m^-1 (crop pixel -> image pixel). -EINVAL when m is singular. */
int face_transform_invert(const float m[6], float inv[6]);
/* Applies m to a point. */
void face_transform_point(const float m[6], float x, float y, float *u, float *v);

enum face_warp_flags {
    FACE_WARP_BILINEAR = 1 << 0, /* bilinear instead of the default bicubic */
    FACE_WARP_REFLECT = 1 << 1,  /* mirror the image at its borders instead of replicating the edge */
    FACE_WARP_NO_AREA = 1 << 2,  /* no area-averaging prefilter when the crop downscales */
};
/* Writes the out_size x out_size RGB24 crop (packed, out_size*3 per row): each crop pixel
 * samples the image at m^-1(u, v), bicubic, area-averaged first when the crop is smaller
 * than the face, edges replicated. flags: face_warp_flags. 0 or <0. */
int face_warp(const uint8_t *rgb, int w, int h, int stride, const float m[6], uint8_t *out,
              int out_size, int flags);

/* ---- tracking ---- */

struct face_tracker_params {
    int detect_interval;  /* frames between full-frame detections (new faces) while faces are
                             tracked, default 30; with none tracked, every verify_interval frames */
    int verify_interval;  /* frames between checks that a tracked face is still there (detection
                             near it only, cheap), default 3 */
    double detect_min_face; /* smallest face to detect, px of the frame; 0 = auto (shorter side / 5) */
    double min_cutoff;    /* one-euro: cutoff (Hz) for a still face, default 1.0: lower = steadier */
    double beta;          /* one-euro: cutoff rise per unit of speed (speed in eye-corner distances
                             per second), default 5: higher = less lag, more jitter */
    double d_cutoff;      /* one-euro: cutoff (Hz) of the speed estimate, default 1.0 */
    int max_faces;        /* faces tracked at once, default 8 */
    int max_missed;       /* checks a track may fail in a row before it is dropped, default 1 */
    double hold_change;   /* a track whose face region changed less than this since its smoothed
                             points last moved (mean |difference| of luminance, 0..255, on a grid over
                             its box) keeps them: repeated frames and still pictures do not move the
                             face (raw points are still fitted); default 0.5, 0 = off */
};
struct face_tracker_params face_tracker_params_default(void);

/* A tracked face in one frame. */
struct face_track {
    int id;                         /* stable while the face is tracked; new ids are never reused */
    struct face_box box;            /* box the landmarks were fitted in */
    float pts[FACE_N_POINTS][2];    /* smoothed landmarks: align and composite with these */
    float raw[FACE_N_POINTS][2];    /* unsmoothed landmarks of this frame */
    int age;                        /* frames since the track began */
    int held;                       /* 1: the face region did not change, pts kept (see hold_change) */
};

struct face_tracker_stats {
    int frames, detections, checks; /* frames seen, full-frame detections, checks near a tracked face */
    int held;                       /* track-frames whose smoothed points were kept (hold_change) */
    double detect_s, landmark_s;    /* CPU seconds of the calling thread in detection (both kinds)
                                       and in landmarks */
};

typedef struct face_tracker face_tracker;
int face_tracker_create(face_tracker **out, face_detector *d, const face_landmarker *lm,
                        const struct face_tracker_params *p); /* p NULL: defaults */
void face_tracker_free(face_tracker **t);
/* Feeds one frame (time in seconds, e.g. its pts; <0: frame count / 30). Returns the faces
 * tracked in it (at most max, ordered by id) or <0. */
int face_tracker_update(face_tracker *t, const uint8_t *rgb, int w, int h, int stride, double time_s,
                        struct face_track *out, int max);
/* Forgets every track (e.g. after a seek); ids keep increasing. */
void face_tracker_reset(face_tracker *t);
void face_tracker_get_stats(const face_tracker *t, struct face_tracker_stats *s);

/* ---- compositing ---- */

enum face_mask {
    FACE_MASK_HULL,    /* convex hull of the landmarks, grown up to the forehead (default) */
    FACE_MASK_ELLIPSE, /* the crop's inner ellipse */
};

struct face_composite_params {
    enum face_mask mask;
    float feather;     /* feather width as a fraction of the crop side, default 0.08, 0..0.5 */
    float color_match; /* 0..1: how much of the frame's colour mean/spread (YCbCr, inside the
                          mask) the pasted face takes on, default 1 */
    float detail_gain; /* 0 (default): off. Else the frame's own luminance detail finer than
                          detail_res x the crop's resolution (frame minus its Gaussian blur,
                          inside the mask) is added back over the pasted face, times this gain */
    float detail_res;  /* 1: the whole band above the crop's resolution; 2 (default): only the
                          top octave, details finer than twice the crop's resolution */
    const float *detail_map; /* NULL (default): the detail comes from the frame. Else from this
                                layer in the crop's frame instead (face_detail_layer, e.g. the mean
                                over a target's photos): detail_map_size^2 luminance values */
    int detail_map_size;
};
/* "none", "full" (band above the crop's resolution), "narrow" (top octave only) or "target"
 * (the full band, from a detail_map the caller sets) into p->detail_res, with
 * p->detail_gain = gain (0 for none). 0 or -EINVAL. */
int face_detail_parse(const char *name, float gain, struct face_composite_params *p);
/* The luminance detail of an aligned face crop (size x size RGB24, packed), aligned as a
 * crop_size crop scaled by size / crop_size: the part finer than res x crop_size across the
 * crop (res as detail_res), size^2 floats to free(), or NULL on no memory. */
float *face_detail_layer(const uint8_t *crop, int size, int crop_size, float res);
struct face_composite_params face_composite_params_default(void);

/* Pastes the crop (crop_size^2 RGB24, packed) into frame in place, through m (the image->crop
 * transform it was aligned with; pts are the frame landmarks, used by FACE_MASK_HULL and
 * ignored (may be NULL) for FACE_MASK_ELLIPSE). Pixels outside the mask are not written, so
 * stay bit-identical. 0 or <0. */
int face_composite(uint8_t *frame, int w, int h, int stride, const uint8_t *crop, int crop_size,
                   const float m[6], const float pts[FACE_N_POINTS][2],
                   const struct face_composite_params *p);

/* The mask face_composite blends through, as a w x h image: 0 where the frame is left
 * untouched, 1..255 for blend weights (0, 1]. For tests and debug views. */
int face_composite_mask(uint8_t *mask, int w, int h, int crop_size, const float m[6],
                        const float pts[FACE_N_POINTS][2], const struct face_composite_params *p);

#ifdef __cplusplus
}
#endif

#endif
