/* glowcam faces: faces, 68 landmarks and track ids of an image or a video, one JSON
 * object per frame per line. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/face_cli.h"
#include "cli/opts.h"
#include "common/gc.h"
#include "face/face.h"
#include "media/media.h"

struct faces_opts {
    int json;
    int raw;
    int max_frames;
    int interval;
    double min_face;
    int mirror;
};

static const struct cli_opt faces_opts_table[] = {
    {"json", 0, "JSON lines (the only output format; accepted for clarity)", offsetof(struct faces_opts, json), OPT_FLAG, {0}, 0, 0},
    {"raw", 0, "video: print the unsmoothed landmarks too (\"raw\")", offsetof(struct faces_opts, raw), OPT_FLAG, {0}, 0, 0},
    {"frames", 'n', "video: stop after N frames (0: all)", offsetof(struct faces_opts, max_frames), OPT_INT, {.i = 0}, 0, 1e9},
    {"detect-interval", 0, "video: frames between full-frame detections while tracking", offsetof(struct faces_opts, interval), OPT_INT, {.i = 30}, 1, 1000},
    {"min-face", 0, "smallest face side in pixels (0: auto)", offsetof(struct faces_opts, min_face), OPT_FLOAT, {.f = 0}, 0, 10000},
    {"mirror-fit", 0, "average the landmarks of the face and its mirror image (1) or not (0)", offsetof(struct faces_opts, mirror), OPT_INT, {.i = 0}, 0, 1},
    {0}};

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_points(FILE *f, const float pts[FACE_N_POINTS][2])
{
    fputc('[', f);
    for (int k = 0; k < FACE_N_POINTS; k++)
        fprintf(f, "%s[%.2f,%.2f]", k ? "," : "", pts[k][0], pts[k][1]);
    fputc(']', f);
}

static void json_face(FILE *f, int id, const struct face_box *b, const float pts[FACE_N_POINTS][2],
                      const float (*raw)[2])
{
    fprintf(f, "{\"id\":%d,\"box\":[%.1f,%.1f,%.1f,%.1f],\"score\":%.3f,\"landmarks\":", id, b->x0, b->y0, b->x1,
            b->y1, b->score);
    json_points(f, pts);
    if (raw) {
        fprintf(f, ",\"raw\":");
        json_points(f, raw);
    }
    fputc('}', f);
}

static int faces_image(const struct faces_opts *o, const char *path, face_detector *det, const face_landmarker *lm,
                       int *found)
{
    uint8_t *rgb = NULL;
    int w, h;
    int r = media_image_read(path, &rgb, &w, &h);
    if (r < 0)
        return r;
    struct face faces[32];
    int n = face_find(det, lm, rgb, w, h, 0, o->min_face, faces, 32);
    free(rgb);
    if (n < 0)
        return n;
    printf("{\"file\":");
    json_string(stdout, path);
    printf(",\"frame\":0,\"width\":%d,\"height\":%d,\"faces\":[", w, h);
    for (int i = 0; i < n; i++) {
        if (i)
            putchar(',');
        json_face(stdout, i, &faces[i].box, faces[i].pts, NULL);
    }
    printf("]}\n");
    *found += n > 0;
    return 0;
}

static int faces_video(const struct faces_opts *o, const char *path, face_detector *det, const face_landmarker *lm,
                       int *frames, int *found)
{
    media_source *src = NULL;
    face_tracker *tr = NULL;
    uint8_t *rgb = NULL;
    struct media_source_params sp = media_source_params_default();
    int r = media_source_open(&src, path, &sp);
    if (r < 0)
        return r;
    const struct media_source_info *si = media_source_info(src);
    struct face_tracker_params tp = face_tracker_params_default();
    tp.detect_interval = o->interval;
    tp.detect_min_face = o->min_face;
    if ((r = face_tracker_create(&tr, det, lm, &tp)) < 0)
        goto fail;
    if (!(rgb = malloc((size_t)si->w * si->h * 3))) {
        r = -ENOMEM;
        goto fail;
    }
    struct media_frame_info fi;
    struct face_track t[32];
    while ((!o->max_frames || *frames < o->max_frames) && (r = media_source_read(src, rgb, &fi)) == 0) {
        int n = face_tracker_update(tr, rgb, si->w, si->h, 0, fi.t, t, 32);
        if (n < 0) {
            r = n;
            goto fail;
        }
        printf("{\"frame\":%lld,\"t\":%.4f,\"width\":%d,\"height\":%d,\"faces\":[", (long long)fi.index, fi.t, si->w,
               si->h);
        for (int i = 0; i < n; i++) {
            if (i)
                putchar(',');
            json_face(stdout, t[i].id, &t[i].box, t[i].pts, o->raw ? (const float(*)[2])t[i].raw : NULL);
        }
        printf("]}\n");
        (*frames)++;
        *found += n > 0;
    }
    if (r == GC_EOF || r == 0)
        r = 0;
fail:
    face_tracker_free(&tr);
    media_source_close(&src);
    free(rgb);
    return r;
}

int cli_cmd_faces(int argc, char **argv)
{
    struct faces_opts o;
    char **pos;
    int npos;
    int r = cli_parse("faces", "IMAGE...|VIDEO [--json] [options]", faces_opts_table, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos < 1) {
        gc_log(GC_LOG_ERROR, "faces: needs an image or a video (glowcam faces --help)");
        return 2;
    }
    struct cli_face_inputs in;
    if (cli_face_inputs_collect(&in, pos, npos) < 0)
        return 1;
    face_detector *det = NULL;
    face_landmarker *lm = NULL;
    int ret = 1, frames = 0, found = 0;
    if (face_detector_create(&det, NULL) < 0 || face_landmarker_create(&lm, NULL) < 0)
        goto done;
    face_landmarker_set_mirror(lm, o.mirror);
    if (in.is_video) {
        if (faces_video(&o, in.paths[0], det, lm, &frames, &found) < 0)
            goto done;
    } else {
        for (int i = 0; i < in.n; i++, frames++)
            if (faces_image(&o, in.paths[i], det, lm, &found) < 0)
                goto done;
    }
    fflush(stdout);
    gc_log(GC_LOG_INFO, "faces: %d %s, %d with a face, %d without", frames, in.is_video ? "frames" : "images", found,
           frames - found);
    if (!found) {
        gc_log(GC_LOG_ERROR, "faces: no face found");
        goto done;
    }
    ret = 0;
done:
    face_landmarker_free(&lm);
    face_detector_free(&det);
    cli_face_inputs_free(&in);
    return ret;
}
