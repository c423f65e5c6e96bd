/* Landmark accuracy and detection rate on the 300-W HELEN test crops.
 *   test_face_landmarks HELEN_DIR [STEP] [MIN_FOUND] [MAX_NME] [mirror]
 * STEP k runs every k-th face (sorted by name) to keep the ASan build within budget.
 * NME: mean point distance over the outer-eye-corner distance (points 36 and 45). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/gc.h"
#include "face/dlibw.h"
#include "face/face.h"

static int read_pts(const char *path, float pts[FACE_N_POINTS][2])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int n = 0, in = 0;
    while (fgets(line, sizeof(line), f) && n < FACE_N_POINTS) {
        if (strchr(line, '{')) {
            in = 1;
            continue;
        }
        if (!in)
            continue;
        if (sscanf(line, "%f %f", &pts[n][0], &pts[n][1]) == 2)
            n++;
    }
    fclose(f);
    return n == FACE_N_POINTS ? 0 : -1;
}

/* CPU time of this thread: per-image figures that hold on a loaded machine */
static double cpu_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s HELEN_DIR [STEP] [MIN_FOUND] [MAX_NME] [mirror]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int step = argc > 2 ? atoi(argv[2]) : 1;
    double min_found = argc > 3 ? atof(argv[3]) : 0.976, max_nme = argc > 4 ? atof(argv[4]) : 0.027;
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "FAIL: %s: cannot open\n", dir);
        return 1;
    }
    char *names[2000];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && nn < 2000) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".jpg"))
            names[nn++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, nn, sizeof(char *), cmp);
    if (nn < 300) {
        fprintf(stderr, "FAIL: %s: %d images, expected 330\n", dir, nn);
        return 1;
    }
    face_detector *det = NULL;
    face_landmarker *lm = NULL;
    if (face_detector_create(&det, NULL) < 0 || face_landmarker_create(&lm, NULL) < 0) {
        fprintf(stderr, "FAIL: cannot create detector/landmarker\n");
        return 1;
    }
    int mirror = argc > 5 && !strcmp(argv[5], "mirror");
    face_landmarker_set_mirror(lm, mirror);
    int tried = 0, found = 0;
    double nme_sum = 0, t_det = 0, t_lm = 0;
    /* the detector box relative to the ground-truth landmark extent, for face_box_from_points */
    double bcx = 0, bcy = 0, bsx = 0, bsy = 0;
    int nbox = 0;
    for (int i = 0; i < nn; i += step) {
        char path[4096], pp[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(pp, sizeof(pp), "%.*s.pts", (int)(strlen(path) - 4), path);
        float gt[FACE_N_POINTS][2], pts[FACE_N_POINTS][2];
        uint8_t *rgb = NULL;
        int w, h;
        if (read_pts(pp, gt) < 0 || dlibw_image_load(path, &rgb, &w, &h) < 0) {
            fprintf(stderr, "FAIL: %s: cannot read image or points\n", path);
            return 1;
        }
        tried++;
        float gx0 = 1e9f, gx1 = -1e9f, gy0 = 1e9f, gy1 = -1e9f;
        for (int k = 0; k < FACE_N_POINTS; k++) {
            gx0 = fminf(gx0, gt[k][0]);
            gx1 = fmaxf(gx1, gt[k][0]);
            gy0 = fminf(gy0, gt[k][1]);
            gy1 = fmaxf(gy1, gt[k][1]);
        }
        float gcx = (gx0 + gx1) / 2, gcy = (gy0 + gy1) / 2;
        struct face_box boxes[16];
        double t0 = cpu_time();
        int n = face_detect(det, rgb, w, h, 0, 0, boxes, 16);
        double t1 = cpu_time();
        t_det += t1 - t0;
        /* the detection whose centre lies in the ground-truth face box, nearest its centre */
        int best = -1;
        float bd = 1e30f;
        for (int k = 0; k < n; k++) {
            float cx = (boxes[k].x0 + boxes[k].x1) / 2, cy = (boxes[k].y0 + boxes[k].y1) / 2;
            if (cx < gx0 || cx > gx1 || cy < gy0 || cy > gy1)
                continue;
            float d = hypotf(cx - gcx, cy - gcy);
            if (d < bd) {
                bd = d;
                best = k;
            }
        }
        if (best >= 0) {
            t0 = cpu_time();
            face_landmarks(lm, rgb, w, h, 0, &boxes[best], pts);
            t_lm += cpu_time() - t0;
            double io = hypot(gt[36][0] - gt[45][0], gt[36][1] - gt[45][1]), s = 0;
            for (int k = 0; k < FACE_N_POINTS; k++)
                s += hypot(pts[k][0] - gt[k][0], pts[k][1] - gt[k][1]);
            nme_sum += s / FACE_N_POINTS / io;
            found++;
            struct face_box b = boxes[best];
            float lw = gx1 - gx0, lh = gy1 - gy0;
            bcx += ((b.x0 + b.x1) / 2 - gcx) / lw;
            bcy += ((b.y0 + b.y1) / 2 - gcy) / lh;
            bsx += (b.x1 - b.x0) / lw;
            bsy += (b.y1 - b.y0) / lh;
            nbox++;
        } else {
            printf("missed: %s (%d detections)\n", names[i], n);
        }
        free(rgb);
    }
    double rate = (double)found / tried, nme = found ? nme_sum / found : 1;
    printf("helen: %d faces tried (every %d, mirror %d), found %d = %.1f%% (bound >= %.1f%%), NME %.4f (bound <= %.4f)\n",
           tried, step, mirror, found, 100 * rate, 100 * min_found, nme, max_nme);
    printf("helen: %.1f ms per image detection, %.2f ms per face landmarks (CPU time, this build)\n",
           1e3 * t_det / tried, found ? 1e3 * t_lm / found : 0);
    if (nbox)
        printf("helen: detector box vs landmark extent: centre (%+.3f, %+.3f), size (%.3f, %.3f)\n",
               bcx / nbox, bcy / nbox, bsx / nbox, bsy / nbox);
    face_detector_free(&det);
    face_landmarker_free(&lm);
    for (int i = 0; i < nn; i++)
        free(names[i]);
    int ok = rate >= min_found && nme <= max_nme;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
