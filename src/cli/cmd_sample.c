/* glowcam sample -m MODEL [--temperature T] [-n N] [--seed S] -o GRID.png: random faces
 * drawn from the model (eps ~ N(0, T^2) at every level), decoded and tiled into one grid. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/opts.h"
#include "glow/glow.h"
#include "media/media.h"

struct sample_opts {
    const char *model, *out, *backend;
    double temperature;
    int n, seed, cols;
};

static const struct cli_opt opts[] = {
    {"model", 'm', "model file (.safetensors)", offsetof(struct sample_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
    {"o", 'o', "output grid image (.png, .jpg)", offsetof(struct sample_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
    {"temperature", 't', "standard deviation of eps (0.7 is usual; 1 = the model's prior)",
     offsetof(struct sample_opts, temperature), OPT_FLOAT, {.f = 0.7}, 0, 4},
    {"n", 'n', "number of samples", offsetof(struct sample_opts, n), OPT_INT, {.i = 16}, 1, 1024},
    {"cols", 0, "grid columns (0: about the square root of n)", offsetof(struct sample_opts, cols), OPT_INT, {.i = 0}, 0, 1024},
    {"seed", 0, "random seed (the same seed gives the same faces)", offsetof(struct sample_opts, seed), OPT_INT,
     {.i = 0}, 0, 2147483647},
    {"backend", 0, "auto, vulkan, cpu or reference", offsetof(struct sample_opts, backend), OPT_STRING,
     {.s = "auto"}, 0, 0},
    {0}};

/* splitmix64: a small, well-mixed generator, so samples are reproducible everywhere */
static uint64_t sample_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* standard normal by Box-Muller; u1 in (0, 1] so the log is finite */
static double sample_gauss(uint64_t *s)
{
    double u1 = ((sample_next(s) >> 11) + 1.0) / 9007199254740992.0;
    double u2 = (sample_next(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int cli_cmd_sample(int argc, char **argv)
{
    struct sample_opts o;
    char **pos;
    int npos;
    const char *usage = "-m MODEL -o GRID.png [--temperature T] [-n N] [--seed S] [--backend B]";
    int r = cli_parse("sample", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    struct glow_params p;
    if (npos != 0 || !o.model || !o.out) {
        gc_log(GC_LOG_ERROR, "sample: needs -m MODEL and -o GRID.png, no positional arguments (see glowcam sample --help)");
        return 2;
    }
    if (cli_glow_params(&p, "sample", o.backend) < 0)
        return 2;
    int ret = 1;
    glow_model *m = NULL;
    glow_engine *e = NULL;
    float *z = NULL;
    uint8_t *faces = NULL, *grid = NULL;
    if (glow_model_load(&m, o.model) < 0)
        goto fail;
    const size_t D = glow_latent_size(m);
    const int S = glow_model_config(m)->image_size, n = o.n;
    int cols = o.cols > 0 ? o.cols : (int)ceil(sqrt((double)n));
    if (cols > n)
        cols = n;
    const int rows = (n + cols - 1) / cols, gap = 2;
    const int gw = cols * (S + gap) + gap, gh = rows * (S + gap) + gap;
    z = malloc((size_t)n * D * sizeof(float));
    faces = malloc((size_t)n * S * S * 3);
    grid = malloc((size_t)gw * gh * 3);
    if (!z || !faces || !grid) {
        gc_log(GC_LOG_ERROR, "sample: out of memory for %d samples of %dx%d", n, S, S);
        goto fail;
    }
    uint64_t st = 0x676c6f7763616dULL ^ (uint64_t)o.seed;
    for (size_t i = 0; i < (size_t)n * D; i++)
        z[i] = (float)(o.temperature * sample_gauss(&st));
    if (glow_engine_create(&e, m, &p) < 0 || glow_decode(e, z, n, faces) < 0)
        goto fail;
    memset(grid, 255, (size_t)gw * gh * 3);
    for (int k = 0; k < n; k++) {
        int x0 = gap + (k % cols) * (S + gap), y0 = gap + (k / cols) * (S + gap);
        for (int y = 0; y < S; y++)
            memcpy(grid + ((size_t)(y0 + y) * gw + x0) * 3, faces + ((size_t)k * S * S + (size_t)y * S) * 3, (size_t)S * 3);
    }
    if (media_image_write(o.out, grid, gw, gh) < 0)
        goto fail;
    printf("%s: %d samples at temperature %.2f (seed %d), %dx%d grid, %s\n", o.out, n, o.temperature, o.seed, cols,
           rows, glow_engine_describe(e));
    ret = 0;
fail:
    free(z);
    free(faces);
    free(grid);
    glow_engine_free(&e);
    glow_model_free(&m);
    return ret;
}
