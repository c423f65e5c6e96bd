/* The C reference against golden outputs of tools/glow_torch.py (float64 PyTorch):
 * latents and bits/dim within a relative error of 1e-5, and the golden latents decode
 * back to the inputs (quantized to n_bits).
 *
 *   test_glow_golden DIR NAME...   reads DIR/NAME.safetensors, NAME.{input,latent,bpd}.npy */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/npy.h"
#include "glow/glow.h"

#define BOUND 1e-5

static int check(const char *dir, const char *name)
{
    char path[1024];
    glow_model *m = NULL;
    glow_engine *e = NULL;
    float *in = NULL, *lat = NULL, *bpdg = NULL, *z = NULL;
    uint8_t *img = NULL, *back = NULL;
    double *bpd = NULL;
    int nd, fail = 1;
    int64_t sh[8], shl[8], shb[8];
    snprintf(path, sizeof(path), "%s/%s.safetensors", dir, name);
    if (glow_model_load(&m, path) < 0)
        goto out;
    struct glow_params p = glow_params_default();
    p.backend = GLOW_BACKEND_REFERENCE;
    if (glow_engine_create(&e, m, &p) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/%s.input.npy", dir, name);
    if (gc_npy_read_f32(path, &in, &nd, sh) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/%s.latent.npy", dir, name);
    if (gc_npy_read_f32(path, &lat, &nd, shl) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/%s.bpd.npy", dir, name);
    if (gc_npy_read_f32(path, &bpdg, &nd, shb) < 0)
        goto out;
    const struct glow_config *c = glow_model_config(m);
    const int n = (int)sh[0];
    const size_t D = glow_latent_size(m);
    if (sh[1] != c->image_size || shl[0] != n || (size_t)shl[1] != D || shb[0] != n) {
        fprintf(stderr, "%s: golden shapes do not match the model\n", name);
        goto out;
    }
    img = malloc(n * D);
    back = malloc(n * D);
    z = malloc(n * D * sizeof(float));
    bpd = malloc(n * sizeof(double));
    for (size_t i = 0; i < n * D; i++)
        img[i] = (uint8_t)in[i];
    if (glow_encode(e, img, n, z, bpd) < 0 || glow_decode(e, lat, n, back) < 0)
        goto out;
    double worst_lat = 0, worst_bpd = 0;
    size_t mism = 0;
    const int shift = 8 - c->n_bits;
    for (int i = 0; i < n; i++) {
        double maxg = 0, maxd = 0;
        for (size_t j = 0; j < D; j++) {
            maxg = fmax(maxg, fabs(lat[i * D + j]));
            maxd = fmax(maxd, fabs((double)z[i * D + j] - lat[i * D + j]));
        }
        worst_lat = fmax(worst_lat, maxd / maxg);
        worst_bpd = fmax(worst_bpd, fabs(bpd[i] - bpdg[i]) / fabs(bpdg[i]));
        for (size_t j = 0; j < D; j++)
            mism += back[i * D + j] != (uint8_t)((img[i * D + j] >> shift) << shift);
    }
    printf("golden %-10s (%s, %s, edge %d, post %d, L%d K%d W%d, %dx%d, n_bits %d): latent max_rel=%.2e "
           "bpd max_rel=%.2e (bound %.0e), bpd[0]=%.5f, decode mismatches %zu/%zu\n",
           name, glow_coupling_name(c->coupling), c->name, c->edge_padding, c->level_post, c->n_levels, c->depth,
           c->width, c->image_size, c->image_size, c->n_bits, worst_lat, worst_bpd, BOUND, bpd[0], mism, n * D);
    fail = !(worst_lat < BOUND && worst_bpd < BOUND && mism == 0);
out:
    if (fail)
        fprintf(stderr, "golden %s: FAILED\n", name);
    free(in), free(lat), free(bpdg), free(z), free(img), free(back), free(bpd);
    glow_engine_free(&e);
    glow_model_free(&m);
    return fail;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_glow_golden DIR NAME...\n");
        return 2;
    }
    int fails = 0;
    for (int i = 2; i < argc; i++)
        fails += check(argv[1], argv[i]);
    printf("golden: %d of %d configurations pass\n", argc - 2 - fails, argc - 2);
    return fails ? 1 : 0;
}
