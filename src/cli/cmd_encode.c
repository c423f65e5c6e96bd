/* glowcam encode IMAGE -m MODEL -o LATENT.npy: one image to its latent, printing bits/dim. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/opts.h"
#include "common/npy.h"
#include "glow/glow.h"
#include "media/media.h"

struct encode_opts {
    const char *model, *out, *backend;
};

static const struct cli_opt opts[] = {
    {"model", 'm', "model file (.safetensors)", offsetof(struct encode_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
    {"o", 'o', "output latent (.npy, float32 [image_size^2*3])", offsetof(struct encode_opts, out), OPT_STRING,
     {.s = NULL}, 0, 0},
    {"backend", 0, "auto, vulkan, cpu or reference", offsetof(struct encode_opts, backend), OPT_STRING,
     {.s = "auto"}, 0, 0},
    {0}};

int cli_cmd_encode(int argc, char **argv)
{
    struct encode_opts o;
    char **pos;
    int npos;
    const char *usage = "IMAGE -m MODEL -o LATENT.npy [--backend B]";
    int r = cli_parse("encode", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    struct glow_params p;
    if (npos != 1 || !o.model || !o.out) {
        gc_log(GC_LOG_ERROR, "encode: needs one IMAGE, -m MODEL and -o LATENT.npy (see glowcam encode --help)");
        return 2;
    }
    if (cli_glow_params(&p, "encode", o.backend) < 0)
        return 2;
    int ret = 1;
    glow_model *m = NULL;
    glow_engine *e = NULL;
    uint8_t *rgb = NULL;
    float *z = NULL;
    int w, h;
    if (glow_model_load(&m, o.model) < 0 || media_image_read(pos[0], &rgb, &w, &h) < 0)
        goto out;
    const int S = glow_model_config(m)->image_size;
    if (w != S || h != S) {
        gc_log(GC_LOG_ERROR, "%s: image is %dx%d but model %s takes %dx%d (align or resize the face first)", pos[0], w,
               h, o.model, S, S);
        goto out;
    }
    if (glow_engine_create(&e, m, &p) < 0)
        goto out;
    gc_log(GC_LOG_VERBOSE, "encode: %s", glow_engine_describe(e));
    const size_t D = glow_latent_size(m);
    z = malloc(D * sizeof(float));
    double bpd;
    if (!z || glow_encode(e, rgb, 1, z, &bpd) < 0)
        goto out;
    int64_t shape[1] = {(int64_t)D};
    if (gc_npy_write_f32(o.out, z, 1, shape) < 0)
        goto out;
    printf("%s: %.4f bits/dim\n", pos[0], bpd);
    ret = 0;
out:
    free(z);
    free(rgb);
    glow_engine_free(&e);
    glow_model_free(&m);
    return ret;
}
