/* Tracking on a real clip: one stable id, landmark jitter on still stretches and lag on
 * moving ones, both printed and bounded.
 *   test_face_track VIDEO FRAMES MAX_JITTER MAX_LAG_FRAMES
 * Reference motion: the raw landmarks averaged over 7 frames centred on each frame (no lag
 * for steady motion, sqrt(7) less noise). Units: the outer-eye-corner distance (IOD).
 * Still: reference speed < 0.3% IOD/frame. Moving: > 1.5% IOD/frame.
 * Jitter: mean frame-to-frame motion of the filtered points on still frames.
 * Lag: on moving frames, (ref - filtered) projected on the reference velocity, in frames. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "face/face.h"
#include "media/media.h"

typedef float pts68[FACE_N_POINTS][2];

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s VIDEO FRAMES MAX_JITTER MAX_LAG_FRAMES\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int max_frames = atoi(argv[2]);
    double max_jitter = atof(argv[3]), max_lag = atof(argv[4]);
    media_source *src = NULL;
    struct media_source_params sp = media_source_params_default();
    if (media_source_open(&src, path, &sp) < 0) {
        printf("FAIL: %s: cannot open\n", path);
        return 1;
    }
    const struct media_source_info *si = media_source_info(src);
    face_detector *det = NULL;
    face_landmarker *lm = NULL;
    face_tracker *tr = NULL;
    struct face_tracker_params tp = face_tracker_params_default();
    if (getenv("FACE_MIN_CUTOFF")) /* tuning knobs */
        tp.min_cutoff = atof(getenv("FACE_MIN_CUTOFF"));
    if (getenv("FACE_BETA"))
        tp.beta = atof(getenv("FACE_BETA"));
    if (face_detector_create(&det, NULL) < 0 || face_landmarker_create(&lm, NULL) < 0 ||
        face_tracker_create(&tr, det, lm, &tp) < 0) {
        printf("FAIL: cannot create the tracker\n");
        return 1;
    }
    if (getenv("FACE_MIRROR"))
        face_landmarker_set_mirror(lm, atoi(getenv("FACE_MIRROR")));
    uint8_t *rgb = malloc((size_t)si->w * si->h * 3);
    pts68 *raw = calloc((size_t)max_frames, sizeof(pts68)), *filt = calloc((size_t)max_frames, sizeof(pts68));
    int n = 0, ids_changed = 0, first_id = -1, missing = 0;
    struct media_frame_info fi;
    double t0 = gc_time();
    while (n < max_frames && media_source_read(src, rgb, &fi) == 0) {
        struct face_track t[4];
        int k = face_tracker_update(tr, rgb, si->w, si->h, 0, fi.t, t, 4);
        if (k < 1) {
            missing++;
            continue; /* counted; the clip has one face throughout */
        }
        if (first_id < 0)
            first_id = t[0].id;
        ids_changed += t[0].id != first_id;
        memcpy(raw[n], t[0].raw, sizeof(pts68));
        memcpy(filt[n], t[0].pts, sizeof(pts68));
        n++;
    }
    double dt = gc_time() - t0;
    struct face_tracker_stats st;
    face_tracker_get_stats(tr, &st);
    double fps = si->fps_den ? (double)si->fps_num / si->fps_den : 30;

    /* metrics */
    int nstill = 0, nmove = 0;
    double jit = 0, jit_raw = 0, lag_num = 0, lag_den = 0;
    for (int t = 4; t < n - 4; t++) {
        double iod = hypot(raw[t][45][0] - raw[t][36][0], raw[t][45][1] - raw[t][36][1]);
        double speed = 0, step = 0, step_raw = 0;
        double ref[3][FACE_N_POINTS][2];
        for (int d = -1; d <= 1; d++)
            for (int i = 0; i < FACE_N_POINTS; i++)
                for (int c = 0; c < 2; c++) {
                    double s = 0;
                    for (int j = -3; j <= 3; j++)
                        s += raw[t + d + j][i][c];
                    ref[d + 1][i][c] = s / 7;
                }
        for (int i = 0; i < FACE_N_POINTS; i++) {
            double vx = (ref[2][i][0] - ref[0][i][0]) / 2, vy = (ref[2][i][1] - ref[0][i][1]) / 2;
            speed += hypot(vx, vy);
            step += hypot(filt[t][i][0] - filt[t - 1][i][0], filt[t][i][1] - filt[t - 1][i][1]);
            step_raw += hypot(raw[t][i][0] - raw[t - 1][i][0], raw[t][i][1] - raw[t - 1][i][1]);
        }
        speed /= FACE_N_POINTS * iod;
        if (speed < 0.003) {
            nstill++;
            jit += step / FACE_N_POINTS / iod;
            jit_raw += step_raw / FACE_N_POINTS / iod;
        } else if (speed > 0.015) {
            nmove++;
            for (int i = 0; i < FACE_N_POINTS; i++) {
                double vx = (ref[2][i][0] - ref[0][i][0]) / 2, vy = (ref[2][i][1] - ref[0][i][1]) / 2;
                double ex = ref[1][i][0] - filt[t][i][0], ey = ref[1][i][1] - filt[t][i][1];
                lag_num += ex * vx + ey * vy;
                lag_den += vx * vx + vy * vy;
            }
        }
    }
    jit = nstill ? jit / nstill : 0;
    jit_raw = nstill ? jit_raw / nstill : 0;
    double lag = lag_den > 0 ? lag_num / lag_den : 0;
    printf("track %s: %d frames with the face, %d without, id changes %d, %.1f ms/frame (%d detections, "
           "%.1f ms each, landmarks %.1f ms/frame; this build)\n",
           path, n, missing, ids_changed, 1e3 * dt / (n + missing), st.detections,
           st.detections ? 1e3 * st.detect_s / st.detections : 0, 1e3 * st.landmark_s / st.frames);
    printf("track: still frames %d: jitter %.5f IOD/frame filtered, %.5f raw (bound %.5f)\n", nstill, jit, jit_raw,
           max_jitter);
    printf("track: moving frames %d: lag %.2f frames = %.0f ms (bound %.2f frames)\n", nmove, lag, 1e3 * lag / fps,
           max_lag);
    int ok = n > 0 && missing == 0 && ids_changed == 0 && nstill >= 5 && nmove >= 5 && jit <= max_jitter &&
             jit < jit_raw && lag <= max_lag;
    printf("%s\n", ok ? "PASS" : "FAIL");
    face_tracker_free(&tr);
    face_landmarker_free(&lm);
    face_detector_free(&det);
    media_source_close(&src);
    free(rgb);
    free(raw);
    free(filt);
    return ok ? 0 : 1;
}
