/* Helpers shared by the xfer commands (identity, attribute, edit, sweep, eval):
 * open a model with its engine and the face finder, find and align faces the
 * way the model was trained, and feed every face of photos, folders and videos
 * into latent statistics. Defined in cmd_identity.c. */
#ifndef CLI_XFER_CLI_H
#define CLI_XFER_CLI_H

#include <stdint.h>

#include "face/face.h"
#include "glow/glow.h"
#include "xfer/xfer.h"

/* The -m entry of the xfer commands' option tables: left out, the shipped model. */
#define CLI_XFER_MODEL_HELP "model file (default: the shipped glowcam-64)"

struct cli_xfer_env {
    glow_model *model;
    glow_engine *engine;
    face_detector *det;    /* NULL unless faces were asked for */
    face_landmarker *lm;
    enum face_recipe recipe; /* the model's alignment */
    int size;              /* model image side */
    size_t dim;            /* latent length */
};

/* model_path: NULL for the shipped glowcam-64 (cli_shipped_file); backend: "auto" etc.
 * (NULL = auto); faces: also open the detector and landmarker. */
int cli_xfer_env_open(struct cli_xfer_env *env, const char *model_path, const char *backend, int faces);
void cli_xfer_env_close(struct cli_xfer_env *env);

/* The largest face of an image, aligned: crop (size^2*3), the image->crop transform and
 * the face. Returns 1 with a face, 0 when there is none, <0 on error. */
int cli_xfer_align(struct cli_xfer_env *env, const uint8_t *rgb, int w, int h, uint8_t *crop, float m[6],
                   struct face *f);

/* Every face of the inputs (image files, folders of images, videos: every `every`-th
 * frame) encoded and added to st. found/missed count images or frames with and
 * without a face. 0 or <0 (a file that cannot be read is an error naming it). */
int cli_xfer_accumulate(struct cli_xfer_env *env, char **inputs, int n_inputs, int every, xfer_stats *st,
                        int64_t *found, int64_t *missed);

/* Bilinear resize of a square RGB image (for contact sheets). */
void cli_xfer_resize(const uint8_t *src, int s, uint8_t *dst, int d);

#endif
