/* Alignment and compositing on real photos.
 *   test_face_align DATA_DIR
 * 1. openai-eyes on the thesis photos (already aligned to 256 by OpenAI's demo code): our
 *    transform must be close to the identity there.
 * 2. Both recipes on HELEN photos: the eye centres land where the recipe puts them, and
 *    landmarks found again in the warped crop agree with the transformed points (the warp's
 *    geometry and pixel convention are right).
 * 3. Round trip: the crop sampled back at each inner-face pixel reproduces the photo.
 * 4. Compositing: pixels outside the mask bit-identical; a colour-shifted face pasted with
 *    colour matching leaves no colour step at the seam. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"
#include "face/dlibw.h"
#include "face/face.h"

static int fails;
#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        printf(__VA_ARGS__);                                                                 \
        printf(" %s\n", (cond) ? "ok" : "FAIL");                                             \
        if (!(cond))                                                                         \
            fails++;                                                                         \
    } while (0)

static face_detector *det;
static face_landmarker *lm;

static int load_face(const char *path, uint8_t **rgb, int *w, int *h, struct face *f)
{
    if (dlibw_image_load(path, rgb, w, h) < 0)
        return -1;
    struct face faces[8];
    int n = face_find(det, lm, *rgb, *w, *h, 0, 0, faces, 8);
    if (n < 1) {
        free(*rgb);
        return -1;
    }
    *f = faces[0];
    return 0;
}

static void eye_centres(const float pts[FACE_N_POINTS][2], float e[2][2])
{
    memset(e, 0, 4 * sizeof(float));
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 2; c++) {
            e[0][c] += pts[36 + i][c] / 6;
            e[1][c] += pts[42 + i][c] / 6;
        }
}

static float sample_bilinear(const uint8_t *img, int S, float u, float v, int c)
{
    int x0 = (int)floorf(u), y0 = (int)floorf(v);
    float ax = u - x0, ay = v - y0;
    const uint8_t *a = img + ((size_t)y0 * S + x0) * 3 + c;
    return (1 - ay) * ((1 - ax) * a[0] + ax * a[3]) + ay * ((1 - ax) * a[S * 3] + ax * a[S * 3 + 3]);
}

static void test_thesis_photos(const char *data)
{
    const char *names[] = {"emma/emma1_aligned.png", "obama/obama1_aligned.png", "selena/selena1_aligned.png",
                           "taylor/taylor1_aligned.png", "zac/zac1_aligned.png", "emma/emma5_aligned.png"};
    double worst_t = 0, worst_s = 0, worst_r = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/identities/%s", data, names[i]);
        uint8_t *rgb;
        int w, h;
        struct face f;
        if (load_face(path, &rgb, &w, &h, &f) < 0) {
            printf("thesis photo %s: no face FAIL\n", path);
            fails++;
            continue;
        }
        float m[6];
        face_align_transform(FACE_RECIPE_OPENAI_EYES, f.pts, w, m);
        double s = hypot(m[0], m[1]), rot = atan2(m[1], m[0]) * 180 / M_PI;
        /* how far the transform moves the face's pixels (eye midpoint) */
        float e[2][2], u, v;
        eye_centres(f.pts, e);
        face_transform_point(m, 0.5f * (e[0][0] + e[1][0]), 0.5f * (e[0][1] + e[1][1]), &u, &v);
        double t = hypot(u - 0.5f * (e[0][0] + e[1][0]), v - 0.5f * (e[0][1] + e[1][1]));
        worst_t = fmax(worst_t, t);
        worst_s = fmax(worst_s, fabs(s - 1));
        worst_r = fmax(worst_r, fabs(rot));
        n++;
        free(rgb);
    }
    /* OpenAI's code truncates eye centres to whole pixels and the landmarks differ a little */
    CHECK(n == 6 && worst_t < 4 && worst_s < 0.05 && worst_r < 2.5,
          "openai-eyes on %d photos aligned by OpenAI's demo: worst shift %.2f px (bound 4), scale error %.3f "
          "(bound 0.05), rotation %.2f deg (bound 2.5):",
          n, worst_t, worst_s, worst_r);
}

static void test_recipes(const char *data)
{
    const char *names[] = {"296814969_3", "2968560214_1", "2968784797_1", "296961468_1", "2970690152_2"};
    int S = 256;
    uint8_t *crop = malloc((size_t)S * S * 3);
    for (int recipe = 0; recipe < 2; recipe++) {
        double worst_eye = 0, redetect = 0, rt_mean = 0, rt_p99 = 0, level = 0, centre = 0;
        double eye_dist_min = 1, eye_dist_max = 0, eye_v_min = 1, eye_v_max = 0;
        int n = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/landmarks/helen/%s.jpg", data, names[i]);
            uint8_t *rgb;
            int w, h;
            struct face f;
            if (load_face(path, &rgb, &w, &h, &f) < 0) {
                printf("%s: no face FAIL\n", path);
                fails++;
                continue;
            }
            float m[6], mp[FACE_N_POINTS][2], e[2][2];
            face_align_transform(recipe, f.pts, S, m);
            face_warp(rgb, w, h, 0, m, crop, S, 0);
            for (int k = 0; k < FACE_N_POINTS; k++)
                face_transform_point(m, f.pts[k][0], f.pts[k][1], &mp[k][0], &mp[k][1]);
            eye_centres(mp, e);
            if (recipe == FACE_RECIPE_OPENAI_EYES) {
                worst_eye = fmax(worst_eye, hypot(e[0][0] - 0.371 * S, e[0][1] - 0.480 * S));
                worst_eye = fmax(worst_eye, hypot(e[1][0] - 0.629 * S, e[1][1] - 0.480 * S));
            }
            level = fmax(level, fabs(atan2(e[1][1] - e[0][1], e[1][0] - e[0][0])) * 180 / M_PI);
            centre = fmax(centre, fabs(0.5 * (e[0][0] + e[1][0]) - 0.5 * S) / S);
            eye_dist_min = fmin(eye_dist_min, hypot(e[1][0] - e[0][0], e[1][1] - e[0][1]) / S);
            eye_dist_max = fmax(eye_dist_max, hypot(e[1][0] - e[0][0], e[1][1] - e[0][1]) / S);
            eye_v_min = fmin(eye_v_min, 0.5 * (e[0][1] + e[1][1]) / S);
            eye_v_max = fmax(eye_v_max, 0.5 * (e[0][1] + e[1][1]) / S);
            if (recipe == FACE_RECIPE_FFHQ_QUAD) {
                /* FFHQ's quad centre c = eye_avg + 0.1 eye_to_mouth is the crop's centre */
                float ea[2] = {0.5f * (e[0][0] + e[1][0]), 0.5f * (e[0][1] + e[1][1])};
                float mo[2] = {0.5f * (mp[48][0] + mp[54][0]), 0.5f * (mp[48][1] + mp[54][1])};
                float cx = ea[0] + 0.1f * (mo[0] - ea[0]), cy = ea[1] + 0.1f * (mo[1] - ea[1]);
                worst_eye = fmax(worst_eye, hypot(cx - 0.5 * (S - 1), cy - 0.5 * (S - 1)));
            }
            /* landmarks found again in the crop */
            struct face cf[4];
            int nc = face_find(det, lm, crop, S, S, 0, 0, cf, 4);
            if (nc >= 1) {
                double iod = hypot(mp[45][0] - mp[36][0], mp[45][1] - mp[36][1]), s = 0;
                for (int k = 0; k < FACE_N_POINTS; k++)
                    s += hypot(cf[0].pts[k][0] - mp[k][0], cf[0].pts[k][1] - mp[k][1]);
                redetect = fmax(redetect, s / FACE_N_POINTS / iod);
            } else {
                redetect = 1;
            }
            /* round trip over the inner face (brows to chin, inside the landmarks' box) */
            float bx0 = 1e9f, bx1 = -1e9f, by0 = 1e9f, by1 = -1e9f;
            for (int k = 17; k < FACE_N_POINTS; k++) {
                bx0 = fminf(bx0, f.pts[k][0]);
                bx1 = fmaxf(bx1, f.pts[k][0]);
                by0 = fminf(by0, f.pts[k][1]);
                by1 = fmaxf(by1, f.pts[k][1]);
            }
            int hist[256] = {0}, cnt = 0;
            double sum = 0;
            for (int y = (int)by0; y <= (int)by1; y++)
                for (int x = (int)bx0; x <= (int)bx1; x++) {
                    float u, v;
                    face_transform_point(m, (float)x, (float)y, &u, &v);
                    if (u < 0 || v < 0 || u >= S - 1 || v >= S - 1)
                        continue;
                    for (int c = 0; c < 3; c++) {
                        int d = (int)fabsf(sample_bilinear(crop, S, u, v, c) - rgb[((size_t)y * w + x) * 3 + c]);
                        hist[d > 255 ? 255 : d]++;
                        sum += d;
                        cnt++;
                    }
                }
            int acc = 0, p99 = 0;
            while (p99 < 255 && (acc += hist[p99]) < 0.99 * cnt)
                p99++;
            rt_mean = fmax(rt_mean, sum / cnt);
            rt_p99 = fmax(rt_p99, p99);
            n++;
            free(rgb);
        }
        const char *rn = face_recipe_name(recipe);
        if (recipe == FACE_RECIPE_OPENAI_EYES) {
            CHECK(n == 5 && worst_eye < 0.01, "%s: eye centres off their targets by at most %.4f px (bound 0.01):", rn,
                  worst_eye);
            CHECK(level < 0.01 && centre < 0.001, "%s: eyes level within %.4f deg, centred within %.5f of the side:",
                  rn, level, centre);
        } else {
            /* the quad leans with the mouth too, so the eyes are near level and near centre only */
            CHECK(n == 5 && worst_eye < 0.01, "%s: quad centre off the crop centre by at most %.4f px (bound 0.01):",
                  rn, worst_eye);
            CHECK(level < 6 && centre < 0.03, "%s: eyes level within %.2f deg (bound 6), centred within %.4f (bound 0.03):",
                  rn, level, centre);
        }
        CHECK(eye_v_min > 0.40 && eye_v_max < 0.52 && eye_dist_min > 0.2 && eye_dist_max < 0.3,
              "%s: eye height %.3f..%.3f of the side (bound 0.40..0.52), eye distance %.3f..%.3f (bound 0.2..0.3):", rn,
              eye_v_min, eye_v_max, eye_dist_min, eye_dist_max);
        CHECK(redetect < 0.07, "%s: landmarks found again in the %dx%d crop vs transformed: worst NME %.4f (bound 0.07):",
              rn, S, S, redetect);
        CHECK(rt_mean < 4 && rt_p99 < 24,
              "%s: round trip photo->crop->photo over the inner face: worst mean %.2f (bound 4), 99th pct %.0f levels "
              "(bound 24):",
              rn, rt_mean, rt_p99);
    }
    free(crop);
}

static void test_composite(const char *data)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/landmarks/helen/2968560214_1.jpg", data);
    uint8_t *rgb;
    int w, h;
    struct face f;
    if (load_face(path, &rgb, &w, &h, &f) < 0) {
        printf("%s: no face FAIL\n", path);
        fails++;
        return;
    }
    int S = 64;
    uint8_t *crop = malloc((size_t)S * S * 3), *out = malloc((size_t)w * h * 3), *mask = malloc((size_t)w * h);
    float m[6];
    face_align_transform(FACE_RECIPE_OPENAI_EYES, f.pts, S, m);
    face_warp(rgb, w, h, 0, m, crop, S, 0);
    /* another face in effect: brighter, bluer, flatter */
    for (int i = 0; i < S * S * 3; i++) {
        int c = i % 3, v = (int)(crop[i] * 0.8f) + (c == 2 ? 60 : 35);
        crop[i] = (uint8_t)(v > 255 ? 255 : v);
    }
    for (int pass = 0; pass < 2; pass++) {
        struct face_composite_params cp = face_composite_params_default();
        cp.color_match = pass ? 1.0f : 0.0f;
        memcpy(out, rgb, (size_t)w * h * 3);
        double t0 = gc_time();
        face_composite(out, w, h, 0, crop, S, m, f.pts, &cp);
        double ms = 1e3 * (gc_time() - t0);
        face_composite_mask(mask, w, h, S, m, f.pts, &cp);
        long outside = 0, changed_outside = 0, inside = 0;
        /* seam step: mean colour of the ring just inside (mask 255 within 3 px of a weaker
         * mask) minus just outside (mask 0 within 3 px of the mask), compared with the photo */
        double in_o[3] = {0}, in_c[3] = {0}, out_o[3] = {0}, out_c[3] = {0};
        long nin = 0, nout = 0;
        for (int y = 3; y < h - 3; y++)
            for (int x = 3; x < w - 3; x++) {
                size_t i = (size_t)y * w + x;
                if (!mask[i]) {
                    outside++;
                    changed_outside += memcmp(out + 3 * i, rgb + 3 * i, 3) != 0;
                } else {
                    inside++;
                }
                int near_in = 0, near_out = 0;
                for (int dy = -3; dy <= 3; dy++)
                    for (int dx = -3; dx <= 3; dx++) {
                        uint8_t q = mask[i + (ptrdiff_t)dy * w + dx];
                        near_in |= q > 0;
                        near_out |= q < 255;
                    }
                if (mask[i] == 255 && near_out) {
                    for (int c = 0; c < 3; c++) {
                        in_o[c] += rgb[3 * i + c];
                        in_c[c] += out[3 * i + c];
                    }
                    nin++;
                } else if (mask[i] == 0 && near_in) {
                    for (int c = 0; c < 3; c++) {
                        out_o[c] += rgb[3 * i + c];
                        out_c[c] += out[3 * i + c];
                    }
                    nout++;
                }
            }
        double step = 0;
        for (int c = 0; c < 3; c++)
            step = fmax(step, fabs((in_c[c] / nin - out_c[c] / nout) - (in_o[c] / nin - out_o[c] / nout)));
        CHECK(changed_outside == 0 && inside > 1000,
              "composite (colour match %.0f): %ld pixels outside the mask, %ld changed (bound 0); %ld inside; %.2f ms:",
              cp.color_match, outside, changed_outside, inside, ms);
        if (pass)
            CHECK(step < 8, "composite with colour match: seam colour step %.2f levels (bound 8)", step);
        else
            printf("composite without colour match: seam colour step %.2f levels (for contrast)\n", step);
    }
    free(crop);
    free(out);
    free(mask);
    free(rgb);
}

/* variance of the 4-neighbour Laplacian of the luminance where mask is 255 */
static double lap_var_inside(const uint8_t *img, const uint8_t *mask, int w, int h)
{
    double s = 0, s2 = 0;
    long n = 0;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            size_t i = (size_t)y * w + x;
            if (mask[i] != 255)
                continue;
            double l = 0;
            const ptrdiff_t nb[4] = {-1, 1, -(ptrdiff_t)w, (ptrdiff_t)w};
            for (int k = 0; k < 5; k++) {
                const uint8_t *q = img + 3 * (k < 4 ? (ptrdiff_t)i + nb[k] : (ptrdiff_t)i);
                double yv = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
                l += k < 4 ? yv : -4 * yv;
            }
            s += l;
            s2 += l * l;
            n++;
        }
    return n ? s2 / n - (s / n) * (s / n) : 0;
}

/* --detail: the photo's own fine detail comes back over a 64x64 paste, a narrow band less
 * than the full one, and nothing changes outside the mask */
static void test_composite_detail(const char *data)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/landmarks/helen/2968560214_1.jpg", data);
    uint8_t *rgb;
    int w, h;
    struct face f;
    if (load_face(path, &rgb, &w, &h, &f) < 0) {
        printf("%s: no face FAIL\n", path);
        fails++;
        return;
    }
    int S = 64;
    uint8_t *crop = malloc((size_t)S * S * 3), *out = malloc((size_t)w * h * 3), *mask = malloc((size_t)w * h);
    float m[6];
    face_align_transform(FACE_RECIPE_OPENAI_EYES, f.pts, S, m);
    face_warp(rgb, w, h, 0, m, crop, S, 0);
    struct face_composite_params cp = face_composite_params_default();
    face_composite_mask(mask, w, h, S, m, f.pts, &cp);
    double photo = lap_var_inside(rgb, mask, w, h), v[3] = {0};
    uint8_t *outs[3];
    const char *names[3] = {"none", "narrow", "full"};
    long changed_outside = 0;
    int parsed = face_detail_parse("bogus", 1, &cp) == -EINVAL && face_detail_parse("full", 9, &cp) == -EINVAL;
    for (int k = 0; k < 3; k++) {
        cp = face_composite_params_default();
        parsed &= face_detail_parse(names[k], 1, &cp) == 0;
        memcpy(out, rgb, (size_t)w * h * 3);
        double t0 = gc_time();
        int r = face_composite(out, w, h, 0, crop, S, m, f.pts, &cp);
        double ms = 1e3 * (gc_time() - t0);
        v[k] = lap_var_inside(out, mask, w, h) / photo;
        outs[k] = malloc((size_t)w * h * 3);
        memcpy(outs[k], out, (size_t)w * h * 3);
        for (size_t i = 0; i < (size_t)w * h; i++)
            changed_outside += !mask[i] && memcmp(out + 3 * i, rgb + 3 * i, 3) != 0;
        printf("detail %s: Laplacian variance inside the mask %.3f of the photo's, %.2f ms (r %d)\n", names[k], v[k],
               ms, r);
    }
    CHECK(parsed && changed_outside == 0 && v[0] < 0.5 && v[1] > v[0] * 1.5 && v[2] > v[1] && v[2] > 0.6,
          "detail: none %.3f < narrow %.3f < full %.3f (> 0.6) of the photo's detail; %ld changed outside (bound 0):",
          v[0], v[1], v[2], changed_outside);

    /* --detail target: the same band from a map in the crop's frame (here the photo's own,
     * aligned at the face's size in the photo) lands where "full" puts the frame's own: what
     * each adds over "none" correlates (a misplaced map would not). It restores less of the
     * finest detail: two resamplings (photo to map, map to frame) soften it */
    const int R = (int)lroundf(S / sqrtf(fabsf(m[0] * m[4] - m[1] * m[3])));
    uint8_t *big = malloc((size_t)R * R * 3);
    float mb[6];
    face_align_transform(FACE_RECIPE_OPENAI_EYES, f.pts, R, mb);
    face_warp(rgb, w, h, 0, mb, big, R, 0);
    cp = face_composite_params_default();
    parsed = face_detail_parse("target", 1, &cp) == 0;
    float *map = face_detail_layer(big, R, S, cp.detail_res);
    cp.detail_map = map;
    cp.detail_map_size = R;
    memcpy(out, rgb, (size_t)w * h * 3);
    changed_outside = 0;
    int r = map ? face_composite(out, w, h, 0, crop, S, m, f.pts, &cp) : -1;
    double vm = lap_var_inside(out, mask, w, h) / photo;
    for (size_t i = 0; i < (size_t)w * h; i++)
        changed_outside += !mask[i] && memcmp(out + 3 * i, rgb + 3 * i, 3) != 0;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (mask[i] == 255) {
            double a = 0, b = 0;
            for (int c = 0; c < 3; c++)
                a += (double)out[3 * i + c] - outs[0][3 * i + c], b += (double)outs[2][3 * i + c] - outs[0][3 * i + c];
            sab += a * b, saa += a * a, sbb += b * b;
        }
    double corr = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
    CHECK(parsed && r == 0 && changed_outside == 0 && vm > 5 * v[0] && corr > 0.6,
          "detail from a %dx%d map: %.3f of the photo's detail (none %.3f, full from the frame %.3f), correlation "
          "with full's %.2f (bound 0.6); %ld changed outside:", R, R, vm, v[0], v[2], corr, changed_outside);
    for (int k = 0; k < 3; k++)
        free(outs[k]);
    free(map);
    free(big);
    free(crop);
    free(out);
    free(mask);
    free(rgb);
}

/* The face a photo is about: the largest box, the first of equals, none of none. */
static void test_largest(void)
{
    struct face f[3] = {0};
    const float sides[3] = {40, 90, 90};
    for (int i = 0; i < 3; i++)
        f[i].box = (struct face_box){.x0 = 10.f * i, .y0 = 0, .x1 = 10.f * i + sides[i], .y1 = sides[i]};
    CHECK(face_largest(f, 3) == 1 && face_largest(f, 1) == 0 && face_largest(f, 0) == -1 && face_largest(f, -5) == -1,
          "face_largest: %d %d %d (expected 1 0 -1)", face_largest(f, 3), face_largest(f, 1), face_largest(f, 0));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    if (face_detector_create(&det, NULL) < 0 || face_landmarker_create(&lm, NULL) < 0) {
        printf("FAIL: cannot create detector/landmarker\n");
        return 1;
    }
    face_landmarker_set_mirror(lm, 1);
    test_largest();
    test_thesis_photos(argv[1]);
    test_recipes(argv[1]);
    test_composite(argv[1]);
    test_composite_detail(argv[1]);
    face_detector_free(&det);
    face_landmarker_free(&lm);
    printf("%s\n", fails ? "FAIL" : "PASS");
    return fails ? 1 : 0;
}
