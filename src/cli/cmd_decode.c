/* glowcam decode LATENT.npy -m MODEL -o IMAGE.png: a latent back to an image. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/opts.h"
#include "common/npy.h"
#include "glow/glow.h"
#include "media/media.h"

struct decode_opts {
    const char *model, *out, *backend;
};

static const struct cli_opt opts[] = {
    {"model", 'm', "model file (.safetensors)", offsetof(struct decode_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
    {"o", 'o', "output image (.png, .jpg)", offsetof(struct decode_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
    {"backend", 0, "auto, vulkan, cpu or reference", offsetof(struct decode_opts, backend), OPT_STRING,
     {.s = "auto"}, 0, 0},
    {0}};

int cli_cmd_decode(int argc, char **argv)
{
    struct decode_opts o;
    char **pos;
    int npos;
    const char *usage = "LATENT.npy -m MODEL -o IMAGE.png [--backend B]";
    int r = cli_parse("decode", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    struct glow_params p;
    if (npos != 1 || !o.model || !o.out) {
        gc_log(GC_LOG_ERROR, "decode: needs one LATENT.npy, -m MODEL and -o IMAGE (see glowcam decode --help)");
        return 2;
    }
    if (cli_glow_params(&p, "decode", o.backend) < 0)
        return 2;
    int ret = 1, nd;
    int64_t sh[8];
    glow_model *m = NULL;
    glow_engine *e = NULL;
    uint8_t *rgb = NULL;
    float *z = NULL;
    if (glow_model_load(&m, o.model) < 0 || gc_npy_read_f32(pos[0], &z, &nd, sh) < 0)
        goto out;
    const size_t D = glow_latent_size(m);
    size_t count = 1;
    for (int i = 0; i < nd; i++)
        count *= (size_t)sh[i];
    if (count != D) {
        gc_log(GC_LOG_ERROR, "%s: latent has %zu values but model %s needs %zu", pos[0], count, o.model, D);
        goto out;
    }
    const int S = glow_model_config(m)->image_size;
    rgb = malloc((size_t)S * S * 3);
    if (!rgb || glow_engine_create(&e, m, &p) < 0)
        goto out;
    gc_log(GC_LOG_VERBOSE, "decode: %s", glow_engine_describe(e));
    if (glow_decode(e, z, 1, rgb) < 0 || media_image_write(o.out, rgb, S, S) < 0)
        goto out;
    ret = 0;
out:
    free(z);
    free(rgb);
    glow_engine_free(&e);
    glow_model_free(&m);
    return ret;
}
