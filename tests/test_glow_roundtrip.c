/* decode(encode(x)) == x exactly, after the model's n_bits quantization, with the
 * reference backend: random images on random models of many configurations, and real
 * faces (resized to the model's size with libswscale) on 64x64 models.
 *
 *   test_glow_roundtrip --faces IDENTITIES_DIR PER_PERSON FACE_MODEL... -- MODEL... */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glow/glow.h"
#include "media/media.h"

static int g_fail;

/* Round trip of n images; returns the number of mismatching values, fills bpd[0..n). */
static size_t roundtrip(glow_engine *e, const glow_model *m, const uint8_t *img, int n, double *bpd)
{
    const struct glow_config *c = glow_model_config(m);
    const size_t isz = (size_t)c->image_size * c->image_size * 3, D = glow_latent_size(m);
    float *z = malloc(n * D * sizeof(float));
    uint8_t *back = malloc(n * isz);
    size_t mism = 0;
    if (glow_encode(e, img, n, z, bpd) < 0 || glow_decode(e, z, n, back) < 0) {
        mism = (size_t)-1;
        goto out;
    }
    const int shift = 8 - c->n_bits;
    for (size_t i = 0; i < n * isz; i++)
        mism += back[i] != (uint8_t)((img[i] >> shift) << shift);
out:
    free(z);
    free(back);
    return mism;
}

static int open_ref(const char *path, glow_model **m, glow_engine **e)
{
    struct glow_params p = glow_params_default();
    p.backend = GLOW_BACKEND_REFERENCE;
    if (glow_model_load(m, path) < 0 || glow_engine_create(e, *m, &p) < 0) {
        g_fail++;
        return -1;
    }
    return 0;
}

static void random_images(const char *path)
{
    glow_model *m = NULL;
    glow_engine *e = NULL;
    if (open_ref(path, &m, &e) < 0)
        return;
    const struct glow_config *c = glow_model_config(m);
    const int S = c->image_size, n = 4;
    const size_t isz = (size_t)S * S * 3;
    uint8_t *img = malloc(n * isz);
    srand(3);
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < isz; i++) {
            /* image 0: black, 1: white, 2: noise, 3: a gradient with noise */
            int v = k == 0 ? 0 : k == 1 ? 255 : k == 2 ? rand() & 255 : (int)(i * 255 / isz) + rand() % 31 - 15;
            img[k * isz + i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    double bpd[4];
    size_t mism = roundtrip(e, m, img, n, bpd);
    printf("roundtrip %-14s (%s, edge %d, post %d, L%d K%d W%d, %dx%d, n_bits %d): %d images, mismatches %zu/%zu, "
           "bpd %.3f %.3f %.3f %.3f\n",
           c->name, glow_coupling_name(c->coupling), c->edge_padding, c->level_post, c->n_levels, c->depth, c->width,
           S, S, c->n_bits, n, mism, n * isz, bpd[0], bpd[1], bpd[2], bpd[3]);
    if (mism)
        g_fail++;
    free(img);
    glow_engine_free(&e);
    glow_model_free(&m);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Up to per_person PNG/JPEG files from each sub-folder of dir, sorted. */
static int list_faces(const char *dir, int per_person, char ***out)
{
    char **files = NULL;
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **subs = NULL;
    int ns = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            subs = realloc(subs, (ns + 1) * sizeof(*subs));
            subs[ns++] = strdup(de->d_name);
        }
    closedir(d);
    qsort(subs, ns, sizeof(*subs), cmp_str);
    for (int s = 0; s < ns; s++) {
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, subs[s]);
        DIR *sd = opendir(path);
        if (!sd)
            continue;
        char **mine = NULL;
        int nm = 0;
        while ((de = readdir(sd))) {
            const char *dot = strrchr(de->d_name, '.');
            if (dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg"))) {
                mine = realloc(mine, (nm + 1) * sizeof(*mine));
                char *p = malloc(strlen(path) + strlen(de->d_name) + 2);
                sprintf(p, "%s/%s", path, de->d_name);
                mine[nm++] = p;
            }
        }
        closedir(sd);
        qsort(mine, nm, sizeof(*mine), cmp_str);
        for (int i = 0; i < nm; i++) {
            if (i < per_person) {
                files = realloc(files, (n + 1) * sizeof(*files));
                files[n++] = mine[i];
            } else {
                free(mine[i]);
            }
        }
        free(mine);
        free(subs[s]);
    }
    free(subs);
    *out = files;
    return n;
}

static void faces(const char *model, char **files, int nfiles)
{
    glow_model *m = NULL;
    glow_engine *e = NULL;
    if (open_ref(model, &m, &e) < 0)
        return;
    const struct glow_config *c = glow_model_config(m);
    const int S = c->image_size;
    const size_t isz = (size_t)S * S * 3;
    uint8_t *img = malloc(nfiles * isz);
    int n = 0;
    for (int i = 0; i < nfiles; i++) {
        uint8_t *rgb;
        int w, h;
        if (media_image_read(files[i], &rgb, &w, &h) < 0) {
            g_fail++;
            continue;
        }
        if (media_image_resize(rgb, w, h, img + n * isz, S, S) == 0)
            n++;
        else
            g_fail++;
        free(rgb);
    }
    double *bpd = malloc((n + 1) * sizeof(double));
    size_t mism = roundtrip(e, m, img, n, bpd);
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += bpd[i] / n;
    printf("roundtrip faces %s (%s, L%d, %dx%d, n_bits %d): %d real faces, mismatches %zu/%zu, mean bpd %.3f\n",
           c->name, glow_coupling_name(c->coupling), c->n_levels, S, S, c->n_bits, n, mism, n * isz, mean);
    if (mism || n < 10)
        g_fail++;
    free(bpd);
    free(img);
    glow_engine_free(&e);
    glow_model_free(&m);
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[1], "--faces")) {
        fprintf(stderr, "usage: test_glow_roundtrip --faces IDENTITIES_DIR PER_PERSON FACE_MODEL... -- MODEL...\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char **files = NULL;
    int nfiles = list_faces(argv[2], atoi(argv[3]), &files);
    if (nfiles < 10) {
        fprintf(stderr, "%s: %d face images found; at least 10 needed\n", argv[2], nfiles);
        return 1;
    }
    int i = 4;
    for (; i < argc && strcmp(argv[i], "--"); i++)
        faces(argv[i], files, nfiles);
    for (i++; i < argc; i++)
        random_images(argv[i]);
    for (int k = 0; k < nfiles; k++)
        free(files[k]);
    free(files);
    printf("%s\n", g_fail ? "FAILED" : "ok");
    return g_fail ? 1 : 0;
}
