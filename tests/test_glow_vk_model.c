/* The Vulkan backend against the reference, whole model: random models of several
 * configurations (affine/additive, edge padding, level_post, ybias/yscale), batches of
 * 1 and several, encode (latents and bits/dim) and decode; exact round trips on random
 * images and on real faces; the second fp32 conv kernel (GLOWCAM_VK_CONV=v2); the
 * fp16-operand path with its own bound; the GPU profile (timestamps) changes nothing.
 *
 *   test_glow_vk_model TMPDIR [IDENTITIES_DIR]
 *   test_glow_vk_model --check MODEL N [--ref]   (GPU machines: fp16/coopmat against fp32
 *       on any model, N synthetic faces, and the fp32 kernels v2 against v1; --ref also fp32
 *       against the reference)
 * Relative error = max |vulkan - reference| / max |reference| over a batch's latents. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "glow/glow.h"
#include "glow/vk_priv.h"
#include "glow_random_model.h"
#ifdef HAVE_MEDIA
#include "media/media.h"
#endif

#define LAT_BOUND 1e-5      /* fp32, whole model */
#define LAT_BOUND_FP16 5e-3 /* fp16 operands in every convolution */
#define LAT_BOUND_FP16_DEEP 2e-2 /* --check: trained and OpenAI-size models (measured 6.6e-3 on glowcam-64) */
#define BPD_BOUND 1e-5      /* bits/dim, relative past 1 bit/dim */
#define LAT_BOUND_V2_DEEP 1e-4 /* --check: two fp32 summation orders through up to 6 x 32 steps */

static int failures;
/* --check on arbitrary (trained) models and synthetic faces: decoding is ill-conditioned
 * far from the training data in any arithmetic, so round trips are reported, not judged. */
static int check_mode;

static void check(const char *what, double v, double bound)
{
    int ok = v <= bound && v == v;
    printf("%-86s %.2e (bound %.0e) %s\n", what, v, bound, ok ? "ok" : "FAIL");
    failures += !ok;
}

static double rel_err(const float *a, const float *r, size_t n)
{
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(r[i]) > mx)
            mx = fabs(r[i]);
        double d = fabs((double)a[i] - r[i]);
        if (!(d <= md))
            md = d;
    }
    return md / (mx > 0 ? mx : 1);
}

static glow_engine *engine(const glow_model *m, enum glow_backend b, int max_batch, int fp16)
{
    struct glow_params p = glow_params_default();
    p.backend = b;
    p.max_batch = max_batch;
    p.fp16 = fp16;
    glow_engine *e = NULL;
    if (glow_engine_create(&e, m, &p) < 0) {
        printf("FAIL: cannot create the %s engine\n", glow_backend_name(b));
        failures++;
        return NULL;
    }
    return e;
}

/* A Vulkan engine made with one kernel-choice variable set (GLOWCAM_VK_CONV=v1, ...). */
static glow_engine *vk_engine_with(const glow_model *m, int max_batch, int fp16, const char *var, const char *value)
{
    setenv(var, value, 1);
    glow_engine *e = engine(m, GLOW_BACKEND_VULKAN, max_batch, fp16);
    unsetenv(var);
    return e;
}

/* Encode n images on both engines, compare; decode the reference latents on both, compare;
 * round trip on vk. */
static void compare(const char *tag, const glow_model *m, glow_engine *ref, glow_engine *vk, const uint8_t *img, int n,
                    double lat_bound, int want_exact_decode)
{
    const struct glow_config *c = glow_model_config(m);
    const size_t isz = (size_t)c->image_size * c->image_size * 3, D = glow_latent_size(m);
    float *zr = malloc(n * D * 4), *zv = malloc(n * D * 4);
    double *br = malloc(n * sizeof(double)), *bv = malloc(n * sizeof(double));
    uint8_t *dr = malloc(n * isz), *dv = malloc(n * isz), *rt = malloc(n * isz);
    char what[256];
    if (glow_encode(ref, img, n, zr, br) < 0 || glow_encode(vk, img, n, zv, bv) < 0 ||
        glow_decode(ref, zr, n, dr) < 0 || glow_decode(vk, zr, n, dv) < 0 || glow_decode(vk, zv, n, rt) < 0) {
        printf("%s: FAIL encode/decode returned an error\n", tag);
        failures++;
        goto out;
    }
    snprintf(what, sizeof(what), "%s n=%d: latent max_rel", tag, n);
    check(what, rel_err(zv, zr, n * D), lat_bound);
    /* relative past 1 bit/dim: random deep models (--check on OpenAI sizes) reach 1e31 */
    double bd = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(bv[i] - br[i]) / (fabs(br[i]) > 1 ? fabs(br[i]) : 1);
        if (!(d <= bd))
            bd = d;
    }
    snprintf(what, sizeof(what), "%s n=%d: bits/dim |diff| / max(1, |ref|) (ref %.4g)", tag, n, br[0]);
    check(what, bd, lat_bound == LAT_BOUND ? BPD_BOUND : 1e-3);
    size_t dm = 0, rm = 0;
    const int shift = 8 - c->n_bits;
    for (size_t i = 0; i < n * isz; i++) {
        dm += dv[i] != dr[i];
        rm += rt[i] != (uint8_t)((img[i] >> shift) << shift);
    }
    printf("%-86s %zu/%zu %s\n", "    decode(reference latents) pixels differing from the reference", dm, n * isz,
           check_mode ? "(info)" : !want_exact_decode || !dm ? "ok" : "FAIL");
    printf("%-86s %zu/%zu %s\n", "    round trip decode(encode(x)) != quantized x", rm, n * isz,
           check_mode ? "(info)" : !rm ? "ok" : "FAIL");
    if (!check_mode)
        failures += (want_exact_decode && dm) || rm;
out:
    free(zr), free(zv), free(br), free(bv), free(dr), free(dv), free(rt);
}

static uint8_t *random_images(int n, int S, unsigned seed)
{
    size_t isz = (size_t)S * S * 3;
    uint8_t *img = malloc(n * isz);
    srand(seed);
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < isz; i++) {
            int v = (k % 3 == 0) ? rand() & 255 : (int)((i / 3) * 255 / (isz / 3)) + rand() % 41 - 20;
            img[k * isz + i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    return img;
}

static const struct {
    const char *name;
    struct glow_random_cfg cfg;
} models[] = {
    {"affine-edge", {.size = 16, .levels = 2, .depth = 2, .width = 16, .affine = 1, .edge = 1, .n_bits = 5, .seed = 1}},
    {"additive-post-ybias", {.size = 16, .levels = 3, .depth = 2, .width = 8, .affine = 0, .edge = 0, .level_post = 1,
                             .n_bits = 5, .ybias = GLOW_RANDOM_ALL, .yscale = GLOW_RANDOM_LAST, .seed = 2}},
    {"affine-post-8bit", {.size = 8, .levels = 1, .depth = 3, .width = 12, .affine = 1, .edge = 0, .level_post = 1,
                          .n_bits = 8, .seed = 3}},
    {"additive-edge-yscale", {.size = 32, .levels = 3, .depth = 2, .width = 24, .affine = 0, .edge = 1, .n_bits = 5,
                              .ybias = GLOW_RANDOM_LAST, .yscale = GLOW_RANDOM_ALL, .seed = 4}},
    {"affine-wide", {.size = 16, .levels = 2, .depth = 1, .width = 104, .affine = 1, .edge = 1, .level_post = 1,
                     .n_bits = 6, .seed = 5}},
    {"six-levels", {.size = 64, .levels = 6, .depth = 1, .width = 16, .affine = 0, .edge = 1, .level_post = 1,
                    .n_bits = 5, .yscale = GLOW_RANDOM_LAST, .seed = 6}},
};

/* Profiling (a timestamp after every command, its own command buffers) gives the very same
 * latents, bits/dim and images; every op class shows up with a positive time; the commands'
 * times add up to the GPU span and to most of the submitted wall time. */
static void test_profile(const glow_model *m, const uint8_t *img, int n)
{
    const struct glow_config *c = glow_model_config(m);
    const size_t isz = (size_t)c->image_size * c->image_size * 3, D = glow_latent_size(m);
    float *z0 = malloc(n * D * 4), *z1 = malloc(n * D * 4), *z2 = malloc(n * D * 4);
    double *b0 = malloc(n * sizeof(double)), *b1 = malloc(n * sizeof(double));
    uint8_t *x0 = malloc(n * isz), *x1 = malloc(n * isz);
    glow_engine *vk = engine(m, GLOW_BACKEND_VULKAN, n, 0);
    if (!vk)
        goto out;
    int err = glow_encode(vk, img, n, z0, b0) < 0 || glow_decode(vk, z0, n, x0) < 0;
    glow_vk_profile_enable(1);
    err |= glow_encode(vk, img, n, z1, b1) < 0 || glow_decode(vk, z0, n, x1) < 0;
    glow_vk_profile_enable(0);
    err |= glow_encode(vk, img, n, z2, NULL) < 0; /* the normal buffers again */
    if (err) {
        printf("profile: FAIL encode/decode returned an error\n");
        failures++;
        goto out;
    }
    int same = !memcmp(z0, z1, n * D * 4) && !memcmp(b0, b1, n * sizeof(double)) && !memcmp(x0, x1, n * isz) &&
               !memcmp(z0, z2, n * D * 4);
    printf("%-86s %s\n", "profile: latents, bits/dim, images identical with and without timestamps",
           same ? "ok" : "FAIL");
    failures += !same;
    const struct glow_vk_prof_entry *e;
    const int ne = glow_vk_profile_entries(&e);
    double cls[GLOW_VK_PROF_N] = {0}, sum[2] = {0, 0};
    int bad = 0;
    for (int i = 0; i < ne; i++) {
        cls[e[i].cls] += e[i].ms;
        sum[e[i].dir] += e[i].ms;
        bad += !(e[i].ms >= 0) || e[i].calls < 1 || (e[i].ks && !(e[i].flop > 0));
    }
    char what[256];
    for (int k = 0; k < GLOW_VK_PROF_N; k++) {
        snprintf(what, sizeof(what), "profile: %s", glow_vk_prof_names[k]);
        printf("%-86s %.4f ms %s\n", what, cls[k], cls[k] > 0 ? "ok" : "FAIL");
        failures += !(cls[k] > 0);
    }
    printf("%-86s %d/%d %s\n", "profile: entries with a negative time, no calls or no FLOPs (convs)", bad, ne,
           bad ? "FAIL" : "ok");
    failures += bad != 0;
    for (int d = 0; d < 2; d++) {
        struct glow_vk_prof_total t;
        glow_vk_profile_total(d, &t);
        /* the intervals tile the span from the first to the last timestamp */
        snprintf(what, sizeof(what), "profile %s: |sum of commands - GPU span| / span (%.3f vs %.3f ms)",
                 d ? "decode" : "encode", sum[d], t.gpu_ms);
        check(what, t.gpu_ms > 0 ? fabs(sum[d] - t.gpu_ms) / t.gpu_ms : 1, 1e-6);
        /* submission and the wait's wake-up are the only host time outside the span (measured
         * 0.997 here; the bound leaves room for a loaded CI machine's scheduling) */
        double frac = t.wall_ms > 0 ? t.gpu_ms / t.wall_ms : 0;
        snprintf(what, sizeof(what), "profile %s: GPU span / submitted wall time (%.3f / %.3f ms, %d submission)",
                 d ? "decode" : "encode", t.gpu_ms, t.wall_ms, t.submissions);
        int ok = t.submissions == 1 && frac >= 0.3 && frac <= 1.0001;
        printf("%-86s %.3f (0.3..1) %s\n", what, frac, ok ? "ok" : "FAIL");
        failures += !ok;
    }
out:
    glow_engine_free(&vk);
    free(z0), free(z1), free(z2), free(b0), free(b1), free(x0), free(x1);
}

#ifdef HAVE_MEDIA
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The first `per` images of each person under dir, resized to S. */
static int load_faces(const char *dir, int per, int S, uint8_t **out)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL: cannot open %s\n", dir);
        return -1;
    }
    char *names[64];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 64)
        if (de->d_name[0] != '.' && strcmp(de->d_name, "expressions"))
            names[nn++] = strdup(de->d_name);
    closedir(d);
    qsort(names, nn, sizeof(*names), cmp_str);
    const size_t isz = (size_t)S * S * 3;
    uint8_t *img = malloc((size_t)nn * per * isz);
    int n = 0;
    for (int i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        DIR *sd = opendir(path);
        char *files[256];
        int nf = 0;
        while (sd && (de = readdir(sd)) && nf < 256) {
            const char *dot = strrchr(de->d_name, '.');
            if (dot && (!strcmp(dot, ".png") || !strcmp(dot, ".jpg")))
                files[nf++] = strdup(de->d_name);
        }
        if (sd)
            closedir(sd);
        qsort(files, nf, sizeof(*files), cmp_str);
        for (int k = 0; k < nf; k++) {
            if (k < per) {
                char fp[8192];
                snprintf(fp, sizeof(fp), "%s/%s", path, files[k]);
                uint8_t *rgb;
                int w, h;
                if (media_image_read(fp, &rgb, &w, &h) == 0) {
                    if (media_image_resize(rgb, w, h, img + n * isz, S, S) == 0)
                        n++;
                    free(rgb);
                }
            }
            free(files[k]);
        }
        free(names[i]);
    }
    *out = img;
    return n;
}
#endif

/* --check: the fp16 path against fp32 Vulkan (and fp32 against the reference) on one model. */
static int check_model(const char *path, int n, int with_ref)
{
    glow_model *m = NULL;
    if (glow_model_load(&m, path) < 0)
        return 1;
    const struct glow_config *c = glow_model_config(m);
    check_mode = 1;
    /* smooth synthetic faces: a coarse random pattern, bilinear, plus a little noise */
    const int S = c->image_size, g = 5;
    uint8_t *img = malloc((size_t)n * S * S * 3);
    srand(9);
    for (int k = 0; k < n; k++) {
        int base[5][5][3];
        for (int y = 0; y < g; y++)
            for (int x = 0; x < g; x++)
                for (int ch = 0; ch < 3; ch++)
                    base[y][x][ch] = 60 + rand() % 140;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int ch = 0; ch < 3; ch++) {
                    double fy = (double)y * (g - 1) / (S - 1), fx = (double)x * (g - 1) / (S - 1);
                    int y0 = (int)fy, x0 = (int)fx, y1 = y0 + 1 < g ? y0 + 1 : y0, x1 = x0 + 1 < g ? x0 + 1 : x0;
                    double ay = fy - y0, ax = fx - x0;
                    double v = (1 - ay) * ((1 - ax) * base[y0][x0][ch] + ax * base[y0][x1][ch]) +
                               ay * ((1 - ax) * base[y1][x0][ch] + ax * base[y1][x1][ch]) + rand() % 9 - 4;
                    img[(((size_t)k * S + y) * S + x) * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
    }
    /* f32: conv.comp alone, f16: conv_cm.comp alone; v2 and h2: the defaults; n2: with conv3n.comp,
     * s2: with the narrow 3x3 as a 1x1 GEMM + shift3.comp */
    glow_engine *f32 = vk_engine_with(m, n, 0, "GLOWCAM_VK_CONV", "v1");
    glow_engine *f16 = vk_engine_with(m, n, 1, "GLOWCAM_VK_CM", "v1");
    glow_engine *v2 = engine(m, GLOW_BACKEND_VULKAN, n, 0);
    glow_engine *h2 = engine(m, GLOW_BACKEND_VULKAN, n, 1);
    glow_engine *n2 = vk_engine_with(m, n, 0, "GLOWCAM_VK_NARROW", "1");
    glow_engine *s2 = vk_engine_with(m, n, 0, "GLOWCAM_VK_NARROW", "shift");
    char tag[512];
    if (f32 && f16) {
        printf("fp32: %s\nfp16: %s\n", glow_engine_describe(f32), glow_engine_describe(f16));
        snprintf(tag, sizeof(tag), "check %s (S%d L%d K%d W%d) fp16 vs fp32", c->name, c->image_size, c->n_levels,
                 c->depth, c->width);
        compare(tag, m, f32, f16, img, n, LAT_BOUND_FP16_DEEP, 0);
    }
    if (f32 && v2) {
        printf("fp32 v2: %s\n", glow_engine_describe(v2));
        snprintf(tag, sizeof(tag), "check %s (S%d L%d K%d W%d) fp32 v2 vs v1", c->name, c->image_size, c->n_levels,
                 c->depth, c->width);
        compare(tag, m, f32, v2, img, n, LAT_BOUND_V2_DEEP, 0);
    }
    if (f32 && n2) {
        snprintf(tag, sizeof(tag), "check %s (S%d L%d K%d W%d) fp32 v2+narrow vs v1", c->name, c->image_size,
                 c->n_levels, c->depth, c->width);
        compare(tag, m, f32, n2, img, n, LAT_BOUND_V2_DEEP, 0);
    }
    if (f32 && s2) {
        snprintf(tag, sizeof(tag), "check %s (S%d L%d K%d W%d) fp32 v2+shift vs v1", c->name, c->image_size,
                 c->n_levels, c->depth, c->width);
        compare(tag, m, f32, s2, img, n, LAT_BOUND_V2_DEEP, 0);
    }
    if (f32 && h2) {
        printf("fp16 v2: %s\n", glow_engine_describe(h2));
        snprintf(tag, sizeof(tag), "check %s (S%d L%d K%d W%d) fp16 v2 vs fp32 v1", c->name,
                 c->image_size, c->n_levels, c->depth, c->width);
        compare(tag, m, f32, h2, img, n, LAT_BOUND_FP16_DEEP, 0);
    }
    glow_engine_free(&v2);
    glow_engine_free(&h2);
    glow_engine_free(&n2);
    glow_engine_free(&s2);
    if (with_ref && f32) {
        glow_engine *ref = engine(m, GLOW_BACKEND_REFERENCE, n, 0);
        snprintf(tag, sizeof(tag), "check %s (S%d L%d K%d W%d) fp32 vs reference", c->name, c->image_size,
                 c->n_levels, c->depth, c->width);
        if (ref)
            compare(tag, m, ref, f32, img, n, LAT_BOUND, 1);
        glow_engine_free(&ref);
    }
    glow_engine_free(&f32);
    glow_engine_free(&f16);
    free(img);
    glow_model_free(&m);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (getenv("GLOWCAM_DEBUG")) /* which kernel each convolution takes */
        gc_log_set_level(GC_LOG_DEBUG);
    if (argc >= 4 && !strcmp(argv[1], "--check")) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return check_model(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1, argc > 4 && !strcmp(argv[4], "--ref"));
    }
    if (argc < 2) {
        fprintf(stderr, "usage: test_glow_vk_model TMPDIR [IDENTITIES_DIR]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    mkdir(argv[1], 0777);
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/vk-%s.safetensors", argv[1], models[i].name);
        glow_model *m = NULL;
        if (glow_random_model_write(path, &models[i].cfg) < 0 || glow_model_load(&m, path) < 0) {
            printf("FAIL: cannot make model %s\n", path);
            failures++;
            continue;
        }
        const struct glow_config *c = glow_model_config(m);
        /* vk: the default kernels (conv2.comp) */
        glow_engine *ref = engine(m, GLOW_BACKEND_REFERENCE, 8, 0), *vk = engine(m, GLOW_BACKEND_VULKAN, 3, 0);
        if (i == 0 && vk)
            printf("%s\n", glow_engine_describe(vk));
        char tag[160];
        snprintf(tag, sizeof(tag), "fp32 %s (S%d L%d K%d W%d)", models[i].name, c->image_size, c->n_levels, c->depth,
                 c->width);
        uint8_t *img = random_images(5, c->image_size, 7 + (unsigned)i);
        if (ref && vk) {
            compare(tag, m, ref, vk, img, 1, LAT_BOUND, 1);
            compare(tag, m, ref, vk, img, 5, LAT_BOUND, 1); /* 3 + 2: two recorded batch sizes */
        }
        glow_engine_free(&vk);
        /* conv.comp alone (GLOWCAM_VK_CONV=v1), same bounds */
        vk = vk_engine_with(m, 5, 0, "GLOWCAM_VK_CONV", "v1");
        snprintf(tag, sizeof(tag), "fp32v1 %s (S%d L%d K%d W%d)", models[i].name, c->image_size, c->n_levels,
                 c->depth, c->width);
        if (ref && vk)
            compare(tag, m, ref, vk, img, 5, LAT_BOUND, 1);
        glow_engine_free(&vk);
        if (c->image_size >= 32) { /* GLOWCAM_VK_NARROW takes the 16 x 16 levels' conv3 */
            static const char *narrow[] = {"1", "shift"}; /* conv3n.comp; 1x1 GEMM + shift3.comp */
            for (int k = 0; k < 2; k++) {
                vk = vk_engine_with(m, 5, 0, "GLOWCAM_VK_NARROW", narrow[k]);
                snprintf(tag, sizeof(tag), "fp32 narrow=%s %s (S%d L%d K%d W%d)", narrow[k], models[i].name,
                         c->image_size, c->n_levels, c->depth, c->width);
                if (ref && vk)
                    compare(tag, m, ref, vk, img, 5, LAT_BOUND, 1);
                glow_engine_free(&vk);
            }
        }
        if (i == 4) /* affine, edge padding, level_post: every op class */
            test_profile(m, img, 3);
        if (i == 0 || i == 4) { /* the fp16-operand convolutions, whole model */
            /* conv_cm.comp's layout on every convolution */
            glow_engine *h = vk_engine_with(m, 4, 1, "GLOWCAM_VK_CM", "v1");
            snprintf(tag, sizeof(tag), "fp16 %s (S%d L%d K%d W%d)", models[i].name, c->image_size, c->n_levels,
                     c->depth, c->width);
            if (ref && h)
                compare(tag, m, ref, h, img, 4, LAT_BOUND_FP16, 0);
            glow_engine_free(&h);
            if (i == 4) { /* the default: conv_cm2.comp takes the width-104 convolutions */
                h = engine(m, GLOW_BACKEND_VULKAN, 4, 1);
                snprintf(tag, sizeof(tag), "fp16v2 %s (S%d L%d K%d W%d)", models[i].name, c->image_size,
                         c->n_levels, c->depth, c->width);
                if (ref && h)
                    compare(tag, m, ref, h, img, 4, LAT_BOUND_FP16, 0);
                glow_engine_free(&h);
            }
        }
        free(img);
        glow_engine_free(&ref);
        glow_model_free(&m);
    }
#ifdef HAVE_MEDIA
    if (argc > 2) {
        struct glow_random_cfg rc = {.size = 32, .levels = 3, .depth = 2, .width = 16, .affine = 1, .edge = 1,
                                     .n_bits = 5, .seed = 11};
        char path[4096];
        snprintf(path, sizeof(path), "%s/vk-faces.safetensors", argv[1]);
        glow_model *m = NULL;
        uint8_t *img = NULL;
        int n = load_faces(argv[2], 2, 32, &img);
        if (n < 10 || glow_random_model_write(path, &rc) < 0 || glow_model_load(&m, path) < 0) {
            printf("FAIL: real faces: %d loaded from %s (10 needed) or model %s\n", n, argv[2], path);
            failures++;
        } else {
            glow_engine *ref = engine(m, GLOW_BACKEND_REFERENCE, 8, 0), *vk = engine(m, GLOW_BACKEND_VULKAN, 8, 0);
            char tag[160];
            snprintf(tag, sizeof(tag), "fp32 real faces from %s at 32x32", "identities/");
            if (ref && vk)
                compare(tag, m, ref, vk, img, n, LAT_BOUND, 1);
            glow_engine_free(&vk);
            glow_engine_free(&ref);
        }
        free(img);
        glow_model_free(&m);
    }
#endif
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
