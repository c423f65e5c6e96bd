/* The OpenBLAS backend against the C reference on random models of every configuration
 * (affine/additive, edge padding on/off, level_post, ybias/yscale, a 1x1 top level):
 * latents and bits/dim within a relative error of 1e-5, decodes identical; a batch of N
 * equals N single calls; and on real faces decode(encode(x)) == x after the n_bits
 * quantization; decode_bits 8 (the continuous value to every 8-bit level) on both backends
 * against the default decode.
 *
 *   test_glow_blas [DATA_DIR]   (DATA_DIR = ${GLOWCAM_DATA}, for the real faces) */
#define _GNU_SOURCE /* setenv */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glow/glow.h"
#include "glow_random_model.h"
#ifdef GLOWCAM_TEST_MEDIA
#include "media/media.h"
#endif

#define BOUND 1e-5

struct tcase {
    const char *name;
    struct glow_random_cfg rc;
};

static const struct tcase cases[] = {
    {"affine-edge", {16, 2, 2, 16, 1, 1, 0, 5, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 1}},
    {"affine-edge-post", {16, 3, 2, 8, 1, 1, 1, 5, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 2}},
    {"affine-noedge-8bit", {16, 2, 3, 24, 1, 0, 0, 8, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 3}},
    {"additive-edge-ybias-yscale", {16, 2, 2, 16, 0, 1, 0, 5, GLOW_RANDOM_ALL, GLOW_RANDOM_LAST, 4}},
    {"additive-noedge-post", {16, 2, 2, 16, 0, 0, 1, 5, GLOW_RANDOM_LAST, GLOW_RANDOM_ALL, 5}},
    {"additive-plain", {16, 2, 2, 8, 0, 1, 0, 4, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 6}},
    {"affine-top1x1", {8, 3, 2, 16, 1, 1, 1, 5, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 7}},
    {"affine-wide-32", {32, 3, 2, 40, 1, 1, 0, 5, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 8}},
};

/* Smooth-ish images (a coarse random pattern plus noise), like glow_torch.py golden. */
static void make_images(uint8_t *img, int n, int s, uint64_t seed)
{
    struct glow_random_rng r = {.s = seed};
    const int cs = s / 4 > 0 ? s / 4 : 1;
    for (int i = 0; i < n; i++) {
        int base[64][64][3];
        for (int y = 0; y < cs; y++)
            for (int x = 0; x < cs; x++)
                for (int c = 0; c < 3; c++)
                    base[y][x][c] = (int)(glow_random_uniform(&r) * 256);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                for (int c = 0; c < 3; c++) {
                    int v = base[y * cs / s][x * cs / s][c] + (int)(glow_random_uniform(&r) * 81) - 40;
                    img[(((size_t)i * s + y) * s + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
    }
}

static double rel_err(const float *a, const float *ref, size_t n)
{
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return mr > 0 ? md / mr : md;
}

static int engine(glow_engine **e, const glow_model *m, enum glow_backend b, int max_batch)
{
    struct glow_params p = glow_params_default();
    p.backend = b;
    p.max_batch = max_batch;
    return glow_engine_create(e, m, &p);
}

static int run_case(const struct tcase *tc)
{
    char path[256];
    snprintf(path, sizeof(path), "test_glow_blas_%s.safetensors", tc->name);
    glow_model *m = NULL;
    glow_engine *ref = NULL, *cpu = NULL, *one = NULL;
    uint8_t *img = NULL, *back_ref = NULL, *back_cpu = NULL;
    float *z_ref = NULL, *z_cpu = NULL, *z_one = NULL, *z_rand = NULL;
    int fail = 1;
    const int n = 3;
    if (glow_random_model_write(path, &tc->rc) < 0 || glow_model_load(&m, path) < 0)
        goto out;
    if (engine(&ref, m, GLOW_BACKEND_REFERENCE, 4) < 0 || engine(&cpu, m, GLOW_BACKEND_CPU, 4) < 0 ||
        engine(&one, m, GLOW_BACKEND_CPU, 1) < 0)
        goto out;
    const int S = tc->rc.size;
    const size_t D = glow_latent_size(m), isz = (size_t)S * S * 3;
    img = malloc(n * isz);
    back_ref = malloc(n * isz);
    back_cpu = malloc(n * isz);
    z_ref = malloc(n * D * sizeof(float));
    z_cpu = malloc(n * D * sizeof(float));
    z_one = malloc(n * D * sizeof(float));
    z_rand = malloc(n * D * sizeof(float));
    if (!img || !back_ref || !back_cpu || !z_ref || !z_cpu || !z_one || !z_rand)
        goto out;
    make_images(img, n, S, tc->rc.seed * 77 + 1);
    double bpd_ref[3], bpd_cpu[3], bpd_one[3];
    if (glow_encode(ref, img, n, z_ref, bpd_ref) < 0 || glow_encode(cpu, img, n, z_cpu, bpd_cpu) < 0)
        goto out;
    /* N single calls (an engine with max_batch 1 makes the engine split the batch) */
    if (glow_encode(one, img, n, z_one, bpd_one) < 0)
        goto out;
    double lat = 0, bpd = 0, batch = rel_err(z_one, z_cpu, n * D);
    for (int i = 0; i < n; i++) {
        lat = fmax(lat, rel_err(z_cpu + i * D, z_ref + i * D, D));
        bpd = fmax(bpd, fabs(bpd_cpu[i] - bpd_ref[i]) / fabs(bpd_ref[i]));
        batch = fmax(batch, fabs(bpd_one[i] - bpd_cpu[i]) / fabs(bpd_cpu[i]));
    }
    /* decode: the reference's latents (round trip) and random latents */
    size_t mism_rt = 0, mism_ref = 0, mism_rand = 0;
    const int shift = 8 - tc->rc.n_bits;
    if (glow_decode(cpu, z_ref, n, back_cpu) < 0)
        goto out;
    for (size_t i = 0; i < n * isz; i++)
        mism_rt += back_cpu[i] != (uint8_t)((img[i] >> shift) << shift);
    struct glow_random_rng r = {.s = tc->rc.seed + 1000};
    for (size_t i = 0; i < n * D; i++)
        z_rand[i] = (float)(0.7 * glow_random_normal(&r));
    if (glow_decode(cpu, z_rand, n, back_cpu) < 0 || glow_decode(ref, z_rand, n, back_ref) < 0)
        goto out;
    for (size_t i = 0; i < n * isz; i++)
        mism_rand += back_cpu[i] != back_ref[i];
    /* batch of n against single decodes */
    if (glow_decode(one, z_rand, n, back_ref) < 0)
        goto out;
    for (size_t i = 0; i < n * isz; i++)
        mism_ref += back_cpu[i] != back_ref[i];
    const struct glow_config *c = glow_model_config(m);
    printf("cpu vs reference %-27s (%s, edge %d, post %d, L%d K%d W%d, %dx%d, n_bits %d): latent max_rel=%.2e "
           "bpd max_rel=%.2e (bound %.0e); batch %d vs single calls max_rel=%.2e, decode mismatches %zu; "
           "round trip mismatches %zu/%zu; random-latent decode mismatches vs reference %zu/%zu\n",
           tc->name, glow_coupling_name(c->coupling), c->edge_padding, c->level_post, c->n_levels, c->depth, c->width,
           S, S, c->n_bits, lat, bpd, BOUND, n, batch, mism_ref, mism_rt, n * isz, mism_rand, n * isz);
    fail = !(lat <= BOUND && bpd <= BOUND && batch <= 1e-6 && mism_ref == 0 && mism_rt == 0 && mism_rand == 0);
out:
    if (fail)
        fprintf(stderr, "case %s: FAILED\n", tc->name);
    free(img), free(back_ref), free(back_cpu), free(z_ref), free(z_cpu), free(z_one), free(z_rand);
    glow_engine_free(&ref);
    glow_engine_free(&cpu);
    glow_engine_free(&one);
    glow_model_free(&m);
    remove(path);
    return fail;
}

/* decode_bits = 8: reference and CPU agree (to 1 level at the 8-bit steps, float vs double),
 * re-quantized to n_bits they give exactly the default decode (floor(floor(256 y) / 2^(8-n)) =
 * floor(2^n y), y = x + 0.5), they use more than 2^n_bits levels, and with an 8-bit model
 * nothing changes. A Vulkan engine, where it can be made, decodes the same 8 bits. */
static int run_decode_bits(const struct tcase *tc)
{
    char path[256];
    snprintf(path, sizeof(path), "test_glow_blas_bits_%s.safetensors", tc->name);
    glow_model *m = NULL;
    glow_engine *e[4] = {NULL, NULL, NULL, NULL}; /* ref, cpu, ref 8 bits, cpu 8 bits */
    uint8_t *img[4] = {NULL, NULL, NULL, NULL};
    float *z = NULL;
    int fail = 1;
    const int n = 3;
    if (glow_random_model_write(path, &tc->rc) < 0 || glow_model_load(&m, path) < 0)
        goto out;
    const int S = tc->rc.size, nb = tc->rc.n_bits, shift = 8 - nb;
    const size_t D = glow_latent_size(m), isz = (size_t)S * S * 3;
    for (int k = 0; k < 4; k++) {
        struct glow_params p = glow_params_default();
        p.backend = k % 2 ? GLOW_BACKEND_CPU : GLOW_BACKEND_REFERENCE;
        p.decode_bits = k >= 2 ? 8 : 0;
        if (glow_engine_create(&e[k], m, &p) < 0 || !(img[k] = malloc(n * isz)))
            goto out;
    }
    struct glow_params bad = glow_params_default();
    bad.decode_bits = 9;
    glow_engine *eb = NULL;
    int bad_r = glow_engine_create(&eb, m, &bad);
    glow_engine_free(&eb);
    if (!(z = malloc(n * D * sizeof(float))))
        goto out;
    struct glow_random_rng r = {.s = tc->rc.seed + 2000};
    for (size_t i = 0; i < n * D; i++)
        z[i] = (float)(0.7 * glow_random_normal(&r));
    for (int k = 0; k < 4; k++)
        if (glow_decode(e[k], z, n, img[k]) < 0)
            goto out;
    size_t off1 = 0, off_more = 0, requant[2] = {0, 0}, same8 = 0;
    int seen[2][256] = {{0}}, levels[2] = {0, 0};
    for (size_t i = 0; i < n * isz; i++) {
        int d = abs((int)img[3][i] - img[2][i]);
        off1 += d == 1;
        off_more += d > 1;
        for (int b = 0; b < 2; b++) {
            int v = img[2 + b][i], def = img[b][i];
            /* above the top bin the default clips to 255, the 8-bit value too */
            requant[b] += def == 255 ? v != 255 : ((v >> shift) << shift) != def;
            seen[b][v] = 1;
        }
        same8 += img[2][i] == img[0][i];
    }
    for (int v = 0; v < 256; v++)
        levels[0] += seen[0][v], levels[1] += seen[1][v];
    int bits_ref = glow_engine_decode_bits(e[2]), bits_def = glow_engine_decode_bits(e[0]);
    printf("decode_bits 8, %-27s (n_bits %d): cpu vs reference %zu values 1 level apart, %zu more, of %zu; "
           "re-quantized to n_bits vs the default decode: %zu (reference), %zu (cpu) mismatches; levels used %d "
           "(reference), %d (cpu) vs %d; engine reports %d (default engine %d); decode_bits 9 -> %d\n",
           tc->name, nb, off1, off_more, n * isz, requant[0], requant[1], levels[0], levels[1], 1 << nb, bits_ref,
           bits_def, bad_r);
    fail = !(off_more == 0 && off1 <= n * isz / 1000 && requant[0] == 0 && requant[1] == 0 && bits_ref == 8 &&
             bits_def == nb && bad_r == -EINVAL);
    if (nb < 8)
        fail |= !(levels[0] > (1 << nb) && levels[1] > (1 << nb));
    else
        fail |= same8 != n * isz; /* an 8-bit model decodes the same either way */
    {
        struct glow_params p = glow_params_default();
        p.backend = GLOW_BACKEND_VULKAN;
        p.decode_bits = 8;
        glow_engine *ev = NULL;
        uint8_t *iv = malloc(n * isz);
        if (iv && glow_engine_create(&ev, m, &p) == 0) {
            int bv = glow_engine_decode_bits(ev);
            size_t v1 = 0, vmore = 0;
            if (glow_decode(ev, z, n, iv) < 0)
                fail = 1;
            else
                for (size_t i = 0; i < n * isz; i++) {
                    int d = abs((int)iv[i] - img[2][i]);
                    v1 += d == 1;
                    vmore += d > 1;
                }
            printf("  vulkan engine with decode_bits 8: reports %d bits; vs the reference's 8-bit decode %zu values "
                   "1 level apart, %zu more, of %zu\n", bv, v1, vmore, n * isz);
            fail |= bv != 8 || vmore != 0 || v1 > n * isz / 1000;
            glow_engine_free(&ev);
        } else {
            printf("  vulkan engine: none could be made here, its 8-bit decode is not checked in this run\n");
        }
        free(iv);
    }
out:
    if (fail)
        fprintf(stderr, "decode_bits case %s: FAILED\n", tc->name);
    for (int k = 0; k < 4; k++) {
        glow_engine_free(&e[k]);
        free(img[k]);
    }
    free(z);
    glow_model_free(&m);
    remove(path);
    return fail;
}

#ifdef GLOWCAM_TEST_MEDIA
/* Real faces: identities/<person>/ (first PNG) (256x256, aligned), box-filtered down to the model
 * size, through a 32x32 random model: decode(encode(x)) == quantize(x). */
static int run_faces(const char *data)
{
    static const char *const people[] = {"emma", "obama", "selena", "taylor", "zac"};
    enum { S = 32, N = 5 };
    const struct glow_random_cfg rc = {S, 3, 3, 32, 1, 1, 1, 5, GLOW_RANDOM_NONE, GLOW_RANDOM_NONE, 11};
    const char *path = "test_glow_blas_faces.safetensors";
    uint8_t faces[N][S * S * 3], back[N][S * S * 3];
    float *z = NULL, *zr = NULL;
    glow_model *m = NULL;
    glow_engine *cpu = NULL, *ref = NULL;
    int fail = 1, got = 0;
    for (int p = 0; p < N; p++) {
        char dir[1024], file[1300];
        snprintf(dir, sizeof(dir), "%s/identities/%s", data, people[p]);
        DIR *d = opendir(dir);
        struct dirent *de;
        char best[256] = "";
        while (d && (de = readdir(d)))
            if (strstr(de->d_name, ".png") && (!best[0] || strcmp(de->d_name, best) < 0))
                snprintf(best, sizeof(best), "%s", de->d_name);
        if (d)
            closedir(d);
        if (!best[0]) {
            fprintf(stderr, "real faces: no PNG in %s\n", dir);
            goto out;
        }
        snprintf(file, sizeof(file), "%s/%s", dir, best);
        uint8_t *rgb = NULL;
        int w, h;
        if (media_image_read(file, &rgb, &w, &h) < 0)
            goto out;
        if (w % S || h % S || w != h) {
            fprintf(stderr, "real faces: %s is %dx%d, expected a square multiple of %d\n", file, w, h, S);
            free(rgb);
            goto out;
        }
        const int f = w / S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++) {
                    int sum = 0;
                    for (int dy = 0; dy < f; dy++)
                        for (int dx = 0; dx < f; dx++)
                            sum += rgb[((size_t)(y * f + dy) * w + x * f + dx) * 3 + c];
                    faces[p][(y * S + x) * 3 + c] = (uint8_t)((sum + f * f / 2) / (f * f));
                }
        free(rgb);
        got++;
    }
    if (glow_random_model_write(path, &rc) < 0 || glow_model_load(&m, path) < 0)
        goto out;
    if (engine(&cpu, m, GLOW_BACKEND_CPU, 8) < 0 || engine(&ref, m, GLOW_BACKEND_REFERENCE, 8) < 0)
        goto out;
    const size_t D = glow_latent_size(m);
    z = malloc(N * D * sizeof(float));
    zr = malloc(N * D * sizeof(float));
    double bpd[N], bpdr[N];
    if (!z || !zr || glow_encode(cpu, &faces[0][0], N, z, bpd) < 0 || glow_decode(cpu, z, N, &back[0][0]) < 0 ||
        glow_encode(ref, &faces[0][0], N, zr, bpdr) < 0)
        goto out;
    size_t mism = 0;
    double lat = rel_err(z, zr, N * D);
    for (int p = 0; p < N; p++)
        for (int i = 0; i < S * S * 3; i++)
            mism += back[p][i] != (uint8_t)((faces[p][i] >> 3) << 3);
    printf("real faces: %d identities' photos at %dx%d, cpu round trip mismatches %zu/%d, latent max_rel vs "
           "reference %.2e (bound %.0e), bpd[0] %.4f (reference %.4f)\n",
           got, S, S, mism, N * S * S * 3, lat, BOUND, bpd[0], bpdr[0]);
    fail = !(mism == 0 && lat <= BOUND);
out:
    if (fail)
        fprintf(stderr, "real faces: FAILED\n");
    free(z);
    free(zr);
    glow_engine_free(&cpu);
    glow_engine_free(&ref);
    glow_model_free(&m);
    remove(path);
    return fail;
}
#endif

int main(int argc, char **argv)
{
    int fails = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        fails += run_case(&cases[i]);
    /* the coupling network in chunks of rows that split images (the default chunk is the
     * whole batch at these sizes) */
    setenv("GLOWCAM_BLAS_CHUNK", "37", 1);
    printf("with GLOWCAM_BLAS_CHUNK=37:\n");
    fails += run_case(&cases[sizeof(cases) / sizeof(cases[0]) - 1]);
    unsetenv("GLOWCAM_BLAS_CHUNK");
    fails += run_decode_bits(&cases[0]); /* 5 bits */
    fails += run_decode_bits(&cases[5]); /* 4 bits */
    fails += run_decode_bits(&cases[2]); /* 8 bits */
#ifdef GLOWCAM_TEST_MEDIA
    if (argc < 2) {
        fprintf(stderr, "usage: test_glow_blas DATA_DIR\n");
        return 2;
    }
    fails += run_faces(argv[1]);
#else
    printf("real faces: not part of this build (the media module, which reads PNG, is not built)\n");
#endif
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "ok", fails);
    return fails ? 1 : 0;
}
