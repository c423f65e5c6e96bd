/* face internals shared by the module's C files. */
#ifndef FACE_PRIV_H
#define FACE_PRIV_H

#include <stdint.h>

#include "face/face.h"

/* An RGB24 image scaled to dw x dh (packed): area-averaged when shrinking, bilinear when
 * enlarging. */
void face_rgb_resize(const uint8_t *rgb, int w, int h, int stride, uint8_t *dst, int dw, int dh);

/* One detection pass in the neighbourhood of a known face (the box grown by 40%, scaled
 * so the face is ~100 px): 1 and the best box there, 0 when none, <0 on error. */
int face_detect_near(face_detector *d, const uint8_t *rgb, int w, int h, int stride, const struct face_box *near,
                     double threshold, struct face_box *found);

static inline int face_stride(int w, int stride) { return stride > 0 ? stride : w * 3; }

#endif
