/* glowcam bench face VIDEO: ms per frame of each face stage on one core: detection
 * (amortised by tracking), landmarks, alignment (transform + warp) and compositing. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/gc.h"
#include "face/face.h"
#include "media/media.h"

int cli_bench_face(int argc, char **argv);

/* CPU time of this thread: the figures then hold on a machine others are using too */
static double cpu_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

struct bench_face_opts {
    int frames;
    int resize;
    int size;
    int interval;
    const char *recipe;
    int mirror;
};

static const struct cli_opt bench_face_opts_table[] = {
    {"frames", 'n', "frames to process (0: all)", offsetof(struct bench_face_opts, frames), OPT_INT, {.i = 300}, 0, 1e9},
    {"resize", 0, "scale frames to this square size first (0: as decoded)", offsetof(struct bench_face_opts, resize), OPT_INT, {.i = 512}, 0, 8192},
    {"size", 's', "aligned crop side (the model's image_size)", offsetof(struct bench_face_opts, size), OPT_INT, {.i = 64}, 8, 1024},
    {"detect-interval", 0, "frames between full-frame detections while tracking", offsetof(struct bench_face_opts, interval), OPT_INT, {.i = 30}, 1, 1000},
    {"recipe", 'r', "alignment recipe", offsetof(struct bench_face_opts, recipe), OPT_STRING, {.s = "openai-eyes"}, 0, 0},
    {"mirror-fit", 0, "mirrored landmark fit too (1) or not (0)", offsetof(struct bench_face_opts, mirror), OPT_INT, {.i = 0}, 0, 1},
    {0}};

int cli_bench_face(int argc, char **argv)
{
    struct bench_face_opts o;
    char **pos;
    int npos;
    int r = cli_parse("bench face", "VIDEO [options]", bench_face_opts_table, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    enum face_recipe recipe;
    if (npos != 1 || face_recipe_parse(o.recipe, &recipe) < 0) {
        gc_log(GC_LOG_ERROR, "bench face: needs one VIDEO and a known --recipe (glowcam bench face --help)");
        return 2;
    }
    media_source *src = NULL;
    face_detector *det = NULL;
    face_landmarker *lm = NULL;
    face_tracker *tr = NULL;
    uint8_t *rgb = NULL, *frame = NULL, *crop = NULL;
    int ret = 1;
    struct media_source_params sp = media_source_params_default();
    if (media_source_open(&src, pos[0], &sp) < 0)
        goto done;
    const struct media_source_info *si = media_source_info(src);
    int w = o.resize ? o.resize : si->w, h = o.resize ? o.resize : si->h;
    rgb = malloc((size_t)si->w * si->h * 3);
    frame = malloc((size_t)w * h * 3);
    crop = malloc((size_t)o.size * o.size * 3);
    if (!rgb || !frame || !crop)
        goto done;
    if (face_detector_create(&det, NULL) < 0 || face_landmarker_create(&lm, NULL) < 0)
        goto done;
    face_landmarker_set_mirror(lm, o.mirror);
    struct face_tracker_params tp = face_tracker_params_default();
    tp.detect_interval = o.interval;
    if (face_tracker_create(&tr, det, lm, &tp) < 0)
        goto done;
    struct face_composite_params cp = face_composite_params_default();
    struct media_frame_info fi;
    double t_align = 0, t_comp = 0, t_track = 0;
    int frames = 0, faces = 0;
    while ((!o.frames || frames < o.frames) && (r = media_source_read(src, rgb, &fi)) == 0) {
        if (o.resize) {
            if (media_image_resize(rgb, si->w, si->h, frame, w, h) < 0)
                goto done;
        } else {
            memcpy(frame, rgb, (size_t)w * h * 3);
        }
        struct face_track t[8];
        double t0 = cpu_time();
        int n = face_tracker_update(tr, frame, w, h, 0, fi.t, t, 8);
        double t1 = cpu_time();
        t_track += t1 - t0;
        if (n < 0)
            goto done;
        for (int i = 0; i < n; i++) {
            float m[6];
            t0 = cpu_time();
            if (face_align_transform(recipe, t[i].pts, o.size, m) < 0 ||
                face_warp(frame, w, h, 0, m, crop, o.size, 0) < 0)
                continue;
            t1 = cpu_time();
            /* the crop goes back as the decoded face would */
            face_composite(frame, w, h, 0, crop, o.size, m, t[i].pts, &cp);
            t_comp += cpu_time() - t1;
            t_align += t1 - t0;
            faces++;
        }
        frames++;
    }
    if (r < 0 && r != GC_EOF)
        goto done;
    if (!frames) {
        gc_log(GC_LOG_ERROR, "%s: no frames", pos[0]);
        goto done;
    }
    struct face_tracker_stats st;
    face_tracker_get_stats(tr, &st);
    double det_ms = 1e3 * st.detect_s / frames, lm_ms = 1e3 * st.landmark_s / frames;
    double al_ms = 1e3 * t_align / frames, co_ms = 1e3 * t_comp / frames;
    double other = 1e3 * t_track / frames - det_ms - lm_ms;
    printf("bench face: %s, %d frames at %dx%d, %d faces (%.2f per frame), crop %d, %s, mirror-fit %d\n", pos[0], frames,
           w, h, faces, (double)faces / frames, o.size, o.recipe, o.mirror);
    printf("  detection    %7.2f ms/frame  (%d full-frame runs, every %d frames while tracking; %d checks near a "
           "face, every %d frames)\n",
           det_ms, st.detections, o.interval, st.checks, tp.verify_interval);
    printf("  landmarks    %7.2f ms/frame\n", lm_ms);
    printf("  tracking     %7.2f ms/frame  (matching, filtering)\n", other);
    printf("  alignment    %7.2f ms/frame\n", al_ms);
    printf("  compositing  %7.2f ms/frame\n", co_ms);
    printf("  total        %7.2f ms/frame  (goal < 10 ms at 512x512, one core; CPU time of this thread)\n",
           det_ms + lm_ms + other + al_ms + co_ms);
    ret = 0;
done:
    face_tracker_free(&tr);
    face_landmarker_free(&lm);
    face_detector_free(&det);
    media_source_close(&src);
    free(rgb);
    free(frame);
    free(crop);
    return ret;
}
