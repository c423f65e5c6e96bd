/* glowcam attribute build: an attribute vector = mean latent of the positive faces
 * minus that of the negative faces (e.g. smiling / not smiling). */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/xfer_cli.h"
#include "common/gc.h"

struct attr_opts {
    const char *model, *pos, *neg, *out, *name, *backend;
    int every;
};

int cli_cmd_attribute(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"model", 'm', CLI_XFER_MODEL_HELP, offsetof(struct attr_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {"pos", 0, "folder (or image, video) of faces showing the attribute", offsetof(struct attr_opts, pos), OPT_STRING, {.s = NULL}, 0, 0},
        {"neg", 0, "folder (or image, video) of faces without it", offsetof(struct attr_opts, neg), OPT_STRING, {.s = NULL}, 0, 0},
        {"o", 'o', "attribute file to write (.safetensors)", offsetof(struct attr_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
        {"name", 0, "name stored in the file (default: the output's base name)", offsetof(struct attr_opts, name), OPT_STRING, {.s = NULL}, 0, 0},
        {"every", 0, "videos: use every Nth frame", offsetof(struct attr_opts, every), OPT_INT, {.i = 5}, 1, 10000},
        {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(struct attr_opts, backend), OPT_STRING, {.s = "auto"}, 0, 0},
        {0}};
    const char *usage = "build --pos DIR --neg DIR -o ATTR.safetensors [-m MODEL] [--name N]";
    struct attr_opts o;
    char **pos;
    int npos;
    int r = cli_parse("attribute", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos != 1 || strcmp(pos[0], "build") || !o.pos || !o.neg || !o.out) {
        gc_log(GC_LOG_ERROR, "attribute: usage: glowcam attribute %s", usage);
        return 2;
    }
    char name[128];
    if (o.name) {
        snprintf(name, sizeof(name), "%s", o.name);
    } else {
        const char *b = strrchr(o.out, '/');
        snprintf(name, sizeof(name), "%s", b ? b + 1 : o.out);
        char *dot = strchr(name, '.');
        if (dot)
            *dot = 0;
    }
    struct cli_xfer_env env;
    xfer_stats *sp = NULL, *sn = NULL;
    xfer_attribute *a = NULL;
    int64_t fp = 0, mp = 0, fn = 0, mn = 0;
    int ret = 1;
    if (cli_xfer_env_open(&env, o.model, o.backend, 1) < 0)
        return 1;
    char *pin[1] = {(char *)o.pos}, *nin[1] = {(char *)o.neg};
    if (xfer_stats_create(&sp, env.dim) < 0 || xfer_stats_create(&sn, env.dim) < 0 ||
        cli_xfer_accumulate(&env, pin, 1, o.every, sp, &fp, &mp) < 0 ||
        cli_xfer_accumulate(&env, nin, 1, o.every, sn, &fn, &mn) < 0)
        goto fail;
    if (fp == 0 || fn == 0) {
        gc_log(GC_LOG_ERROR, "attribute build: no face found in %s", fp == 0 ? o.pos : o.neg);
        goto fail;
    }
    if (xfer_attribute_from_stats(sp, sn, name, glow_model_sha256(env.model), &a) < 0)
        goto fail;
    snprintf(a->source, sizeof(a->source), "glowcam attribute build --pos %.100s --neg %.100s", o.pos, o.neg);
    if (xfer_attribute_save(a, o.out) < 0)
        goto fail;
    printf("attribute %s: %" PRId64 " positive, %" PRId64 " negative faces (%" PRId64 " and %" PRId64
           " without a face skipped) -> %s\n", name, fp, fn, mp, mn, o.out);
    ret = 0;
fail:
    xfer_attribute_free(&a);
    xfer_stats_free(&sp);
    xfer_stats_free(&sn);
    cli_xfer_env_close(&env);
    return ret;
}
