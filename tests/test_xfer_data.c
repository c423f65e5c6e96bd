/* xfer on the shared identities (../shared/data/identities): builds the five
 * identities, transfers the ten expression photos (source identity selena) onto the
 * other four, asserts the exact properties on these real faces and prints the
 * figures (latent distances, landmark expression fidelity against doing nothing).
 * usage: test_xfer_data IDENTITIES_DIR TMPDIR [MODEL]
 * Without MODEL a random 64 px model is made (the exact properties hold for any
 * model; the fidelity figures only mean something with a trained one). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/gc.h"
#include "face/face.h"
#include "media/media.h"
#include "test_xfer_util.h"
#include "xfer/xfer.h"

#define MAXF 32
#define LM 256 /* landmarks are compared in a 256 px aligned frame */
static const char *const people[] = {"emma", "obama", "selena", "taylor", "zac"};
enum { NP = 5, SELENA = 2 };

struct person {
    int n;                    /* faces found */
    uint8_t *crops;           /* n model-size aligned crops */
    float *z;                 /* n latents */
    xfer_identity *id;
    double shape[FACE_N_POINTS][2]; /* mean landmarks of the crops, LM frame */
    int n_shape;
};

static face_detector *det;
static face_landmarker *lm;
static glow_engine *eng;
static const glow_model *model;
static int S;
static size_t D, P;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_pngs(const char *dir, char **out, int max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) && n < max)
        if (strstr(de->d_name, ".png")) {
            out[n] = malloc(strlen(dir) + strlen(de->d_name) + 2);
            sprintf(out[n], "%s/%s", dir, de->d_name);
            n++;
        }
    closedir(d);
    qsort(out, n, sizeof(char *), cmp_str);
    return n;
}

/* The photo re-detected and aligned the way the model was trained, at model size;
 * its landmarks in the crop's frame upscaled to LM px are added to box_pts. */
static double box_pts[FACE_N_POINTS][2];
static int n_box;
static struct face_box crop_box; /* where faces sit in LM px upscaled aligned crops */

static int align_photo(const char *path, uint8_t *crop)
{
    uint8_t *rgb;
    int w, h;
    struct face f[4];
    float m[6];
    if (media_image_read(path, &rgb, &w, &h) < 0)
        return -1;
    int n = face_find(det, lm, rgb, w, h, 0, 0, f, 4);
    enum face_recipe r = glow_model_config(model)->alignment == GLOW_ALIGN_FFHQ_QUAD ? FACE_RECIPE_FFHQ_QUAD
                                                                                    : FACE_RECIPE_OPENAI_EYES;
    int ok = n > 0 && face_align_transform(r, f[0].pts, S, m) == 0 && face_warp(rgb, w, h, 0, m, crop, S, 0) == 0;
    free(rgb);
    if (ok) {
        const double k = (double)LM / S;
        for (int i = 0; i < FACE_N_POINTS; i++) {
            float u, v;
            face_transform_point(m, f[0].pts[i][0], f[0].pts[i][1], &u, &v);
            box_pts[i][0] += k * u + (k - 1) / 2, box_pts[i][1] += k * v + (k - 1) / 2;
        }
        n_box++;
    }
    return ok ? 1 : 0;
}

/* Landmarks of a model-size crop, upscaled to LM px and re-aligned there. The crop is
 * aligned, so the face's box is known (crop_box): no detection, which is slow under ASan. */
static int crop_landmarks(const uint8_t *crop, float pts[FACE_N_POINTS][2])
{
    uint8_t *big = malloc((size_t)LM * LM * 3);
    float p[FACE_N_POINTS][2], m[6];
    const float k = (float)LM / S, up[6] = {k, 0, (k - 1) / 2, 0, k, (k - 1) / 2}; /* bicubic upscale */
    face_warp(crop, S, S, 0, up, big, LM, 0);
    int r = face_landmarks(lm, big, LM, LM, 0, &crop_box, p);
    free(big);
    if (r < 0 || face_align_transform(FACE_RECIPE_OPENAI_EYES, p, LM, m) < 0)
        return 0;
    for (int i = 0; i < FACE_N_POINTS; i++)
        face_transform_point(m, p[i][0], p[i][1], &pts[i][0], &pts[i][1]);
    return 1;
}

static double iod_d(double s[FACE_N_POINTS][2])
{
    double l[2] = {0}, r[2] = {0};
    for (int i = 36; i < 42; i++)
        l[0] += s[i][0] / 6, l[1] += s[i][1] / 6, r[0] += s[i + 6][0] / 6, r[1] += s[i + 6][1] / 6;
    return hypot(r[0] - l[0], r[1] - l[1]);
}

static double rms(const float *a, const float *b)
{
    double s = 0;
    for (size_t i = 0; i < D; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / D);
}

/* expression fidelity of one output: accumulates error, gain terms */
struct fid { double err, sxy, sxx, syy; int n; };
static void fidelity(struct fid *f, float src[FACE_N_POINTS][2], double ms[FACE_N_POINTS][2],
                     float out[FACE_N_POINTS][2], double mo[FACE_N_POINTS][2], double iod)
{
    double e = 0;
    for (int k = 0; k < FACE_N_POINTS; k++) {
        double sx = src[k][0] - ms[k][0], sy = src[k][1] - ms[k][1], ox = out[k][0] - mo[k][0], oy = out[k][1] - mo[k][1];
        e += hypot(sx - ox, sy - oy);
        f->sxy += sx * ox + sy * oy, f->sxx += sx * sx + sy * sy, f->syy += ox * ox + oy * oy;
    }
    f->err += e / FACE_N_POINTS / iod;
    f->n++;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_xfer_data IDENTITIES_DIR TMPDIR [MODEL]\n");
        return 2;
    }
    const char *data = argv[1], *tmp = argv[2];
    mkdir(tmp, 0755);
    char mpath[600], opath[600], path[700];
    glow_model *m = NULL, *other = NULL;
    snprintf(opath, sizeof(opath), "%s/other16.safetensors", tmp);
    if (argc > 3) {
        snprintf(mpath, sizeof(mpath), "%s", argv[3]);
    } else {
        snprintf(mpath, sizeof(mpath), "%s/random64.safetensors", tmp);
        const struct glow_random_cfg c = {.size = 64, .levels = 3, .depth = 2, .width = 16, .affine = 1,
                                          .n_bits = 5, .seed = 21};
        if (glow_random_model_write(mpath, &c) < 0)
            return 1;
    }
    const struct glow_random_cfg co = {.size = 16, .levels = 2, .depth = 1, .width = 8, .affine = 0,
                                       .n_bits = 5, .seed = 22};
    if (glow_random_model_write(opath, &co) < 0 || glow_model_load(&m, mpath) < 0 ||
        glow_model_load(&other, opath) < 0) {
        printf("FAIL: models do not load\n");
        return 1;
    }
    model = m;
    S = glow_model_config(m)->image_size;
    D = glow_latent_size(m);
    P = (size_t)S * S * 3;
    struct glow_params gp = glow_params_default();
    if (glow_engine_create(&eng, m, &gp) < 0 || face_detector_create(&det, NULL) < 0 ||
        face_landmarker_create(&lm, NULL) < 0) {
        printf("FAIL: engine or face finder\n");
        return 1;
    }
    printf("model %s (%dpx, %s), engine %s\n", mpath, S, glow_model_sha256(m), glow_engine_describe(eng));
    double t0 = gc_time();

    /* 1. five identities */
    struct person pp[NP];
    memset(pp, 0, sizeof(pp));
    for (int p = 0; p < NP; p++) {
        char *files[MAXF], dir[600];
        snprintf(dir, sizeof(dir), "%s/%s", data, people[p]);
        int nf = list_pngs(dir, files, MAXF);
        CHECK(nf > 0, "%s: no photos", dir);
        pp[p].crops = malloc(P * (nf > 0 ? nf : 1));
        for (int i = 0; i < nf; i++) {
            if (align_photo(files[i], pp[p].crops + P * pp[p].n) == 1)
                pp[p].n++;
            free(files[i]);
        }
        pp[p].z = malloc(D * sizeof(float) * (pp[p].n ? pp[p].n : 1));
        glow_encode(eng, pp[p].crops, pp[p].n, pp[p].z, NULL);
        xfer_stats *st;
        xfer_stats_create(&st, D);
        for (int i = 0; i < pp[p].n; i++)
            xfer_stats_add(st, pp[p].z + D * i);
        xfer_identity *id = NULL;
        snprintf(path, sizeof(path), "%s/%s.safetensors", tmp, people[p]);
        int r = xfer_stats_to_identity(st, people[p], glow_model_sha256(m), &id);
        if (r == 0)
            r = xfer_identity_save(id, path);
        xfer_identity_free(&id);
        if (r == 0)
            r = xfer_identity_load(&pp[p].id, path, m);
        xfer_stats_free(&st);
        double vm = 0;
        for (size_t i = 0; pp[p].id && i < D; i++)
            vm += pp[p].id->var[i];
        printf("identity %-6s: %d of %d photos with a face, saved+reloaded %d, mean var %.4f\n", people[p], pp[p].n,
               nf, r, pp[p].id ? vm / D : NAN);
        CHECK(r == 0 && pp[p].n >= nf - 2, "identity %s", people[p]);
    }
    {
        float bp[FACE_N_POINTS][2];
        for (int k = 0; k < FACE_N_POINTS; k++)
            bp[k][0] = (float)(box_pts[k][0] / n_box), bp[k][1] = (float)(box_pts[k][1] / n_box);
        crop_box = face_box_from_points(bp);
    }
    for (int p = 0; p < NP; p++) {
        for (int i = 0; i < pp[p].n; i++) {
            float pts[FACE_N_POINTS][2];
            if (!crop_landmarks(pp[p].crops + P * i, pts))
                continue;
            for (int k = 0; k < FACE_N_POINTS; k++)
                pp[p].shape[k][0] += pts[k][0], pp[p].shape[k][1] += pts[k][1];
            pp[p].n_shape++;
        }
        for (int k = 0; k < FACE_N_POINTS && pp[p].n_shape; k++)
            pp[p].shape[k][0] /= pp[p].n_shape, pp[p].shape[k][1] /= pp[p].n_shape;
        printf("identity %-6s: landmarks on %d of its %d crops\n", people[p], pp[p].n_shape, pp[p].n);
    }

    /* 2. the expression photos */
    char *ex[MAXF], dir[600];
    snprintf(dir, sizeof(dir), "%s/expressions", data);
    int ne_files = list_pngs(dir, ex, MAXF), ne = 0;
    uint8_t *ecrop = malloc(P * MAXF), *dec = malloc(P * MAXF), *mean_face = malloc(P);
    float *ez = malloc(D * sizeof(float) * MAXF), *out = malloc(D * sizeof(float) * MAXF);
    for (int i = 0; i < ne_files; i++) {
        if (align_photo(ex[i], ecrop + P * ne) == 1)
            ne++;
        free(ex[i]);
    }
    printf("expressions: %d of %d photos with a face\n", ne, ne_files);
    CHECK(ne == ne_files && ne == 10, "expression photos");
    glow_encode(eng, ecrop, ne, ez, NULL);
    float (*epts)[FACE_N_POINTS][2] = calloc(MAXF, sizeof(*epts));
    int eok[MAXF];
    for (int i = 0; i < ne; i++)
        eok[i] = crop_landmarks(ecrop + P * i, epts[i]);

    /* 3. exact properties on real faces */
    const int shift = 8 - glow_model_config(m)->n_bits;
    struct xfer_params xp = xfer_params_default();
    xp.source = XFER_SOURCE_FILE;
    xp.alpha = 1.0;
    xfer_ctx *x = NULL;
    xfer_ctx_create(&x, m, &xp, pp[SELENA].id, pp[SELENA].id, NULL);
    for (int i = 0; i < ne; i++)
        xfer_ctx_apply(x, ez + D * i, out + D * i, 0);
    xfer_ctx_free(&x);
    glow_decode(eng, out, ne, dec);
    size_t px_off = 0;
    for (size_t i = 0; i < P * ne; i++)
        px_off += (dec[i] >> shift) != (ecrop[i] >> shift);
    printf("property selena->selena alpha=1: decoded pixels off after quantization %zu of %zu (must be 0)\n", px_off,
           P * ne);
    CHECK(px_off == 0, "alpha 1 same identity");
    for (int p = 0; p < NP; p++) {
        if (p == SELENA)
            continue;
        xp.alpha = 0.0;
        xfer_ctx_create(&x, m, &xp, pp[p].id, pp[SELENA].id, NULL);
        for (int i = 0; i < ne; i++)
            xfer_ctx_apply(x, ez + D * i, out + D * i, 0);
        xfer_ctx_free(&x);
        int zoff = 0;
        for (int i = 0; i < ne; i++)
            zoff += memcmp(out + D * i, pp[p].id->mean, D * sizeof(float)) != 0;
        glow_decode(eng, out, ne, dec);
        /* the mean decoded in the same batch layout: a batch row and a single call may round
         * differently (float, ~1e-7), which can flip a value at a bin edge */
        float *zm = malloc(D * sizeof(float) * ne);
        uint8_t *dm = malloc(P * ne);
        CHECK(zm && dm, "memory");
        if (!zm || !dm) {
            free(zm), free(dm);
            continue;
        }
        for (int i = 0; i < ne; i++)
            memcpy(zm + D * i, pp[p].id->mean, D * sizeof(float));
        glow_decode(eng, zm, ne, dm);
        int off = 0;
        for (int i = 0; i < ne; i++)
            off += memcmp(dec + P * i, dm + P * i, P) != 0;
        free(zm), free(dm);
        printf("property selena->%s alpha=0: latents differing from %s's mean %d of %d, decoded faces differing from "
               "its mean face %d of %d (both must be 0)\n", people[p], people[p], zoff, ne, off, ne);
        CHECK(zoff == 0 && off == 0, "alpha 0 -> target mean face");
    }
    {
        /* Each copy encoded alone, as the reference latent: OpenBLAS's GEMM kernels may round a
         * row differently by its position in a batch (seen on AMD EPYC), and this property is
         * about the statistics, not about batching. */
        xfer_stats *st;
        xfer_stats_create(&st, D);
        float *zc = malloc(D * sizeof(float) * 7);
        for (int k = 0; k < 7; k++)
            glow_encode(eng, ecrop, 1, zc + D * k, NULL);
        for (int k = 1; k < 7; k++)
            xfer_stats_add(st, zc + D * k);
        xfer_identity *cid;
        xfer_stats_to_identity(st, "copies", glow_model_sha256(m), &cid);
        size_t moff = 0, vnz = 0;
        for (size_t i = 0; i < D; i++)
            moff += memcmp(&cid->mean[i], &zc[i], 4) != 0, vnz += cid->var[i] != 0;
        printf("property identity of 6 copies of %s: mean differs from its latent in %zu values, var nonzero in %zu "
               "(both must be 0)\n", "selena_expression1", moff, vnz);
        CHECK(moff == 0 && vnz == 0, "copies");
        xfer_identity_free(&cid);
        xfer_stats_free(&st);
        free(zc);
    }
    {
        snprintf(path, sizeof(path), "%s/selena.safetensors", tmp);
        xfer_identity *bad = NULL;
        xt_capture_begin(tmp);
        int r = xfer_identity_load(&bad, path, other);
        char *msg = xt_capture_end();
        int both = strstr(msg, path) && strstr(msg, opath);
        printf("property selena identity with another model: load %d, names both files %d\n", r, both);
        CHECK(r < 0 && both, "other model");
        free(msg);
    }

    /* 4. transfers at alpha 0.5 (linear and variance) and the figures */
    uint8_t *sheet = malloc(P * (ne + 2) * 4);
    int row = 0;
    printf("transfer selena -> target, alpha 0.5; latent rms distance per dimension to the target mean / to selena's "
           "mean; landmark expression error over inter-ocular distance (alpha 0.5 vs alpha 0 = doing nothing), gain\n");
    for (int method = XFER_METHOD_LINEAR; method <= XFER_METHOD_VARIANCE; method++)
        for (int p = 0; p < NP; p++) {
            if (p == SELENA)
                continue;
            struct fid f = {0}, f0 = {0};
            double dt = 0, ds = 0, dt_in = 0, ds_in = 0;
            int found = 0;
            xp.method = method;
            xp.alpha = 0.5;
            xfer_ctx_create(&x, m, &xp, pp[p].id, pp[SELENA].id, NULL);
            for (int i = 0; i < ne; i++) {
                xfer_ctx_apply(x, ez + D * i, out + D * i, 0);
                dt += rms(out + D * i, pp[p].id->mean) / ne, ds += rms(out + D * i, pp[SELENA].id->mean) / ne;
                dt_in += rms(ez + D * i, pp[p].id->mean) / ne, ds_in += rms(ez + D * i, pp[SELENA].id->mean) / ne;
            }
            xfer_ctx_free(&x);
            glow_decode(eng, out, ne, dec);
            glow_decode(eng, pp[p].id->mean, 1, mean_face);
            float mpts[FACE_N_POINTS][2];
            int mean_ok = crop_landmarks(mean_face, mpts);
            double iod = iod_d(pp[SELENA].shape);
            for (int i = 0; i < ne; i++) {
                float opts[FACE_N_POINTS][2];
                if (!crop_landmarks(dec + P * i, opts))
                    continue;
                found++;
                if (eok[i] && pp[SELENA].n_shape && pp[p].n_shape) {
                    fidelity(&f, epts[i], pp[SELENA].shape, opts, pp[p].shape, iod);
                    if (mean_ok)
                        fidelity(&f0, epts[i], pp[SELENA].shape, mpts, pp[p].shape, iod);
                }
            }
            printf("  %-8s -> %-6s: d_target %.4f d_source %.4f (input: %.4f / %.4f); faces found in outputs %d/%d; "
                   "expression error %.4f (doing nothing %.4f), gain %.3f, corr %.3f\n",
                   xfer_method_name(method), people[p], dt, ds, dt_in, ds_in, found, ne, f.n ? f.err / f.n : NAN,
                   f0.n ? f0.err / f0.n : NAN, f.sxx > 0 ? f.sxy / f.sxx : NAN,
                   f.sxx > 0 && f.syy > 0 ? f.sxy / sqrt(f.sxx * f.syy) : NAN);
            /* the output moved toward the target: closer to its mean than the input was */
            CHECK(dt < dt_in, "output not closer to the target mean than the input");
            if (method == XFER_METHOD_LINEAR) { /* sheet row: expressions then the target mean */
                for (int y = 0; y < S; y++) {
                    for (int i = 0; i < ne; i++)
                        memcpy(sheet + (((size_t)row * S + y) * (ne + 2) + i) * S * 3, dec + P * i + (size_t)y * S * 3, (size_t)S * 3);
                    memcpy(sheet + (((size_t)row * S + y) * (ne + 2) + ne) * S * 3, mean_face + (size_t)y * S * 3, (size_t)S * 3);
                    memset(sheet + (((size_t)row * S + y) * (ne + 2) + ne + 1) * S * 3, 0, (size_t)S * 3);
                }
                row++;
            }
        }
    snprintf(path, sizeof(path), "%s/transfers.png", tmp);
    media_image_write(path, sheet, S * (ne + 2), S * 4);
    printf("outputs (rows: emma obama taylor zac; columns: the 10 expressions, the target mean face): %s\n", path);
    printf("time %.1f s\n", gc_time() - t0);

    for (int p = 0; p < NP; p++) {
        free(pp[p].crops), free(pp[p].z);
        xfer_identity_free(&pp[p].id);
    }
    free(ecrop), free(dec), free(mean_face), free(ez), free(out), free(epts), free(sheet);
    glow_engine_free(&eng);
    face_landmarker_free(&lm);
    face_detector_free(&det);
    glow_model_free(&m);
    glow_model_free(&other);
    printf("%s (%d failures)\n", test_failures ? "FAILED" : "passed", test_failures);
    return test_failures ? 1 : 0;
}
