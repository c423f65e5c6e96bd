/* dlibw: the thin extern "C" wrapper around dlib (dlibw.cpp is the only C++ in the tree).
 * Everything above it (scaling, retries, tracking) is plain C in the other face files.
 * No C++ exception crosses this boundary: each call catches and returns <0. */
#ifndef FACE_DLIBW_H
#define FACE_DLIBW_H

#include <stdint.h>

#include "face/face.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlibw_detector dlibw_detector;
typedef struct dlibw_predictor dlibw_predictor;

/* dlib's frontal HOG face detector (5 filters); one per thread. */
int dlibw_detector_new(dlibw_detector **out);
void dlibw_detector_free(dlibw_detector *d);
/* Detects on an 8-bit grey image (channels 1) or RGB24 (channels 3); boxes in that image's
 * pixels, best score first. Returns the count (<= max) or <0. */
int dlibw_detect(dlibw_detector *d, const uint8_t *img, int w, int h, int stride, int channels,
                 double threshold, struct face_box *boxes, int max);

/* The 68-point shape predictor from a dlib .dat file; read-only once loaded.
 * Logs and returns -ENOENT (missing) or -EINVAL (not a shape predictor). */
int dlibw_predictor_load(dlibw_predictor **out, const char *path);
void dlibw_predictor_free(dlibw_predictor *p);
int dlibw_predict(const dlibw_predictor *p, const uint8_t *rgb, int w, int h, int stride,
                  const struct face_box *box, float pts[FACE_N_POINTS][2]);

/* Image files through dlib's own readers (PNG, JPEG, BMP, GIF) as packed RGB24, malloc'd:
 * for the face tests and tools, which then need no other module. Logs and returns <0. */
int dlibw_image_load(const char *path, uint8_t **rgb, int *w, int *h);
/* PNG, written to path.tmp then renamed. */
int dlibw_png_save(const char *path, const uint8_t *rgb, int w, int h);

#ifdef __cplusplus
}
#endif

#endif
