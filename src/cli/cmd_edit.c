/* glowcam edit: every face of one photo moved along an attribute vector
 * (aligned, encoded, edited, decoded, pasted back). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/xfer_cli.h"
#include "common/gc.h"
#include "common/gc_file.h"
#include "media/media.h"

#define EDIT_MAX_FACES 8

struct edit_opts {
    const char *model, *attr, *out, *weights, *backend, *crop;
    double alpha;
};

int cli_cmd_edit(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"model", 'm', CLI_XFER_MODEL_HELP, offsetof(struct edit_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {"attribute", 0, "attribute vector (.safetensors)", offsetof(struct edit_opts, attr), OPT_STRING, {.s = NULL}, 0, 0},
        {"alpha", 'a', "how far along the vector (negative: away from it)", offsetof(struct edit_opts, alpha), OPT_FLOAT, {.f = 1.0}, -10, 10},
        {"o", 'o', "image to write (PNG or JPEG)", offsetof(struct edit_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
        {"level-weights", 0, "alpha weights per level, level 0 (finest) first", offsetof(struct edit_opts, weights), OPT_STRING, {.s = NULL}, 0, 0},
        {"crop", 0, "also write the edited aligned face here", offsetof(struct edit_opts, crop), OPT_STRING, {.s = NULL}, 0, 0},
        {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(struct edit_opts, backend), OPT_STRING, {.s = "auto"}, 0, 0},
        {0}};
    const char *usage = "IMAGE --attribute ATTR.safetensors --alpha A -o OUT [-m MODEL]";
    struct edit_opts o;
    char **pos;
    int npos;
    int r = cli_parse("edit", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    struct xfer_params p = xfer_params_default();
    p.method = XFER_METHOD_ATTRIBUTE;
    p.alpha = o.alpha;
    if (npos != 1 || !o.attr || !o.out) {
        gc_log(GC_LOG_ERROR, "edit: needs IMAGE, --attribute and -o");
        cli_print_help(stderr, "edit", usage, opts);
        return 2;
    }
    if (gc_file_same(pos[0], o.out)) {
        gc_log(GC_LOG_ERROR, "edit: %s would replace the image it reads: write the output elsewhere", o.out);
        return 2;
    }
    if (o.weights && xfer_level_weights_parse(o.weights, &p) < 0)
        return 2;
    struct cli_xfer_env env;
    xfer_attribute *a = NULL;
    xfer_ctx *x = NULL;
    uint8_t *rgb = NULL, *crops = NULL;
    float *z = NULL;
    int w, h, ret = 1;
    struct face faces[EDIT_MAX_FACES];
    float mt[EDIT_MAX_FACES][6];
    if (cli_xfer_env_open(&env, o.model, o.backend, 1) < 0)
        return 1;
    const size_t P = (size_t)env.size * env.size * 3;
    if (xfer_attribute_load(&a, o.attr, env.model) < 0 || xfer_ctx_create(&x, env.model, &p, NULL, NULL, a) < 0 ||
        media_image_read(pos[0], &rgb, &w, &h) < 0)
        goto fail;
    int n = face_find(env.det, env.lm, rgb, w, h, 0, 0, faces, EDIT_MAX_FACES);
    if (n < 0)
        goto fail;
    if (n == 0) {
        gc_log(GC_LOG_ERROR, "%s: no face found", pos[0]);
        goto fail;
    }
    crops = malloc(P * n);
    z = malloc(env.dim * sizeof(float) * n);
    if (!crops || !z)
        goto fail;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (face_align_transform(env.recipe, faces[i].pts, env.size, mt[k]) < 0 ||
            face_warp(rgb, w, h, 0, mt[k], crops + P * k, env.size, 0) < 0)
            continue;
        faces[k] = faces[i];
        k++;
    }
    if (glow_encode(env.engine, crops, k, z, NULL) < 0)
        goto fail;
    for (int i = 0; i < k; i++)
        xfer_ctx_apply(x, z + env.dim * i, z + env.dim * i, 0);
    if (glow_decode(env.engine, z, k, crops) < 0)
        goto fail;
    struct face_composite_params cp = face_composite_params_default();
    for (int i = 0; i < k; i++)
        if (face_composite(rgb, w, h, 0, crops + P * i, env.size, mt[i], faces[i].pts, &cp) < 0)
            goto fail;
    if (o.crop && media_image_write(o.crop, crops, env.size, env.size) < 0)
        goto fail;
    if (media_image_write(o.out, rgb, w, h) < 0)
        goto fail;
    printf("edit: %d face(s) of %s moved %g along %s -> %s\n", k, pos[0], o.alpha, a->name[0] ? a->name : o.attr, o.out);
    ret = 0;
fail:
    xfer_ctx_free(&x);
    xfer_attribute_free(&a);
    free(rgb), free(crops), free(z);
    cli_xfer_env_close(&env);
    return ret;
}
