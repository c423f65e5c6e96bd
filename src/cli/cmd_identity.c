/* glowcam identity build|info|show, and the helpers the other xfer commands share. */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/opts.h"
#include "cli/xfer_cli.h"
#include "common/gc.h"
#include "media/media.h"

int cli_xfer_env_open(struct cli_xfer_env *env, const char *model_path, const char *backend, int faces)
{
    memset(env, 0, sizeof(*env));
    struct glow_params gp;
    char shipped[4096];
    int r;
    if ((r = cli_glow_params(&gp, NULL, backend)) < 0)
        return r;
    model_path = cli_shipped_file(NULL, model_path, "glowcam-64.safetensors", "model", "-m MODEL", shipped,
                                  sizeof(shipped));
    if (!model_path)
        return -ENOENT;
    if ((r = glow_model_load(&env->model, model_path)) < 0)
        goto fail;
    if ((r = glow_engine_create(&env->engine, env->model, &gp)) < 0)
        goto fail;
    const struct glow_config *cfg = glow_model_config(env->model);
    env->size = cfg->image_size;
    env->dim = glow_latent_size(env->model);
    env->recipe = cfg->alignment == GLOW_ALIGN_FFHQ_QUAD ? FACE_RECIPE_FFHQ_QUAD : FACE_RECIPE_OPENAI_EYES;
    if (faces) {
        if ((r = face_detector_create(&env->det, NULL)) < 0 || (r = face_landmarker_create(&env->lm, NULL)) < 0)
            goto fail;
    }
    return 0;
fail:
    cli_xfer_env_close(env);
    return r;
}

void cli_xfer_env_close(struct cli_xfer_env *env)
{
    face_landmarker_free(&env->lm);
    face_detector_free(&env->det);
    glow_engine_free(&env->engine);
    glow_model_free(&env->model);
}

int cli_xfer_align(struct cli_xfer_env *env, const uint8_t *rgb, int w, int h, uint8_t *crop, float m[6],
                   struct face *f)
{
    struct face faces[8];
    int n = face_find(env->det, env->lm, rgb, w, h, 0, 0, faces, 8);
    if (n <= 0)
        return n;
    int best = face_largest(faces, n);
    int r = face_align_transform(env->recipe, faces[best].pts, env->size, m);
    if (r < 0)
        return 0; /* degenerate landmarks: treat as no usable face */
    if ((r = face_warp(rgb, w, h, 0, m, crop, env->size, 0)) < 0)
        return r;
    if (f)
        *f = faces[best];
    return 1;
}

void cli_xfer_resize(const uint8_t *src, int s, uint8_t *dst, int d)
{
    for (int y = 0; y < d; y++) {
        double fy = ((y + 0.5) * s / d) - 0.5;
        int y0 = (int)floor(fy);
        double wy = fy - y0;
        int ya = y0 < 0 ? 0 : y0, yb = y0 + 1 >= s ? s - 1 : y0 + 1;
        for (int x = 0; x < d; x++) {
            double fx = ((x + 0.5) * s / d) - 0.5;
            int x0 = (int)floor(fx);
            double wx = fx - x0;
            int xa = x0 < 0 ? 0 : x0, xb = x0 + 1 >= s ? s - 1 : x0 + 1;
            for (int c = 0; c < 3; c++) {
                double v = (1 - wy) * ((1 - wx) * src[(ya * s + xa) * 3 + c] + wx * src[(ya * s + xb) * 3 + c]) +
                           wy * ((1 - wx) * src[(yb * s + xa) * 3 + c] + wx * src[(yb * s + xb) * 3 + c]);
                dst[(y * d + x) * 3 + c] = (uint8_t)(v + 0.5);
            }
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Faces are encoded in batches (the engine is faster on several at once). */
struct batch {
    struct cli_xfer_env *env;
    xfer_stats *st;
    uint8_t *crops;
    float *z;
    int n, cap;
};

static int batch_flush(struct batch *b)
{
    if (!b->n)
        return 0;
    int r = glow_encode(b->env->engine, b->crops, b->n, b->z, NULL);
    if (r < 0)
        return r;
    for (int i = 0; i < b->n; i++)
        xfer_stats_add(b->st, b->z + (size_t)i * b->env->dim);
    b->n = 0;
    return 0;
}

static int add_image(struct batch *b, const uint8_t *rgb, int w, int h, int64_t *found, int64_t *missed)
{
    const size_t P = (size_t)b->env->size * b->env->size * 3;
    float m[6];
    int r = cli_xfer_align(b->env, rgb, w, h, b->crops + (size_t)b->n * P, m, NULL);
    if (r < 0)
        return r;
    if (r == 0) {
        (*missed)++;
        return 0;
    }
    (*found)++;
    if (++b->n == b->cap)
        return batch_flush(b);
    return 0;
}

static int add_path(struct batch *b, const char *path, int every, int64_t *found, int64_t *missed)
{
    int r;
    if (media_is_image_path(path)) {
        uint8_t *rgb = NULL;
        int w, h;
        if ((r = media_image_read(path, &rgb, &w, &h)) < 0)
            return r;
        int64_t f0 = *found;
        r = add_image(b, rgb, w, h, found, missed);
        free(rgb);
        if (r == 0 && *found == f0)
            gc_log(GC_LOG_INFO, "%s: no face found, skipped", path);
        return r;
    }
    media_source *src = NULL;
    struct media_source_params sp = media_source_params_default();
    if ((r = media_source_open(&src, path, &sp)) < 0)
        return r;
    const struct media_source_info *si = media_source_info(src);
    uint8_t *rgb = malloc((size_t)si->w * si->h * 3);
    struct media_frame_info fi;
    if (!rgb) {
        media_source_close(&src);
        return -ENOMEM;
    }
    while ((r = media_source_read(src, rgb, &fi)) == 0) {
        if (fi.index % every)
            continue;
        if ((r = add_image(b, rgb, si->w, si->h, found, missed)) < 0)
            break;
    }
    free(rgb);
    media_source_close(&src);
    return r == GC_EOF ? 0 : r;
}

int cli_xfer_accumulate(struct cli_xfer_env *env, char **inputs, int n_inputs, int every, xfer_stats *st,
                        int64_t *found, int64_t *missed)
{
    const size_t P = (size_t)env->size * env->size * 3;
    struct batch b = {.env = env, .st = st, .cap = 8};
    int r = 0;
    *found = *missed = 0;
    b.crops = malloc(P * b.cap);
    b.z = malloc(env->dim * sizeof(float) * b.cap);
    if (!b.crops || !b.z) {
        r = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < n_inputs && r >= 0; i++) {
        struct stat sb;
        if (stat(inputs[i], &sb) < 0) {
            gc_log(GC_LOG_ERROR, "%s: cannot read (%s)", inputs[i], gc_strerror(-errno));
            r = -ENOENT;
            break;
        }
        if (!S_ISDIR(sb.st_mode)) {
            r = add_path(&b, inputs[i], every, found, missed);
            continue;
        }
        /* a folder: its image files, in name order (the result must not depend on readdir) */
        DIR *d = opendir(inputs[i]);
        char **names = NULL;
        int nn = 0, cap = 0;
        struct dirent *de;
        if (!d) {
            gc_log(GC_LOG_ERROR, "%s: cannot open folder (%s)", inputs[i], gc_strerror(-errno));
            r = -errno;
            break;
        }
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || !media_is_image_path(de->d_name))
                continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 64;
                char **t = realloc(names, cap * sizeof(char *));
                if (!t)
                    break;
                names = t;
            }
            size_t len = strlen(inputs[i]) + strlen(de->d_name) + 2;
            names[nn] = malloc(len);
            snprintf(names[nn], len, "%s/%s", inputs[i], de->d_name);
            nn++;
        }
        closedir(d);
        qsort(names, nn, sizeof(char *), cmp_str);
        if (nn == 0)
            gc_log(GC_LOG_WARN, "%s: no image files in this folder", inputs[i]);
        for (int k = 0; k < nn; k++) {
            if (r >= 0)
                r = add_path(&b, names[k], every, found, missed);
            free(names[k]);
        }
        free(names);
    }
    if (r >= 0)
        r = batch_flush(&b);
fail:
    free(b.crops);
    free(b.z);
    return r;
}

/* ---- identity build ---- */

struct build_opts {
    const char *model, *out, *name, *backend;
    int every;
};

static int identity_build(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"model", 'm', CLI_XFER_MODEL_HELP, offsetof(struct build_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {"o", 'o', "identity file to write (.safetensors)", offsetof(struct build_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
        {"name", 0, "name stored in the file (default: the output's base name)", offsetof(struct build_opts, name), OPT_STRING, {.s = NULL}, 0, 0},
        {"every", 0, "videos: use every Nth frame", offsetof(struct build_opts, every), OPT_INT, {.i = 5}, 1, 10000},
        {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(struct build_opts, backend), OPT_STRING, {.s = "auto"}, 0, 0},
        {0}};
    const char *usage = "PHOTOS...|DIR|VIDEO -o ID.safetensors [-m MODEL] [--name N] [--every N]";
    struct build_opts o;
    char **pos;
    int npos;
    int r = cli_parse("identity build", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (!o.out || npos < 1) {
        gc_log(GC_LOG_ERROR, "identity build: needs inputs and -o ID.safetensors");
        cli_print_help(stderr, "identity build", usage, opts);
        return 2;
    }
    char name[128];
    if (o.name) {
        snprintf(name, sizeof(name), "%s", o.name);
    } else { /* base name without extension */
        const char *b = strrchr(o.out, '/');
        snprintf(name, sizeof(name), "%s", b ? b + 1 : o.out);
        char *dot = strchr(name, '.');
        if (dot)
            *dot = 0;
    }
    struct cli_xfer_env env;
    xfer_stats *st = NULL;
    xfer_identity *id = NULL;
    int64_t found = 0, missed = 0;
    if (cli_xfer_env_open(&env, o.model, o.backend, 1) < 0)
        return 1;
    int ret = 1;
    if (xfer_stats_create(&st, env.dim) < 0)
        goto fail;
    double t0 = gc_time();
    if (cli_xfer_accumulate(&env, pos, npos, o.every, st, &found, &missed) < 0)
        goto fail;
    if (found == 0) {
        gc_log(GC_LOG_ERROR, "identity build: no face found in the %" PRId64 " images/frames given", missed);
        goto fail;
    }
    if (xfer_stats_to_identity(st, name, glow_model_sha256(env.model), &id) < 0 || xfer_identity_save(id, o.out) < 0)
        goto fail;
    printf("identity %s: %" PRId64 " face%s averaged, %" PRId64 " images/frames without a face skipped, %.1f s -> %s\n",
           name, found, found == 1 ? "" : "s", missed, gc_time() - t0, o.out);
    ret = 0;
fail:
    xfer_identity_free(&id);
    xfer_stats_free(&st);
    cli_xfer_env_close(&env);
    return ret;
}

/* ---- identity info / show ---- */

struct info_opts {
    const char *model, *out, *backend;
};

static int identity_info(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"model", 'm', "also check the identity against this model", offsetof(struct info_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {0}};
    struct info_opts o;
    char **pos;
    int npos;
    int r = cli_parse("identity info", "ID.safetensors [-m MODEL]", opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos != 1) {
        gc_log(GC_LOG_ERROR, "identity info: give one identity file");
        return 2;
    }
    glow_model *m = NULL;
    xfer_identity *id = NULL;
    if (o.model && glow_model_load(&m, o.model) < 0)
        return 1;
    r = xfer_identity_load(&id, pos[0], m);
    glow_model_free(&m);
    if (r < 0)
        return 1;
    double n2 = 0, vs = 0;
    for (size_t i = 0; i < id->dim; i++)
        n2 += (double)id->mean[i] * id->mean[i], vs += id->var[i];
    printf("file:         %s\nname:         %s\ncount:        %" PRId64 "\nmodel_sha256: %s\nlatent size:  %zu\n"
           "mean norm:    %.4f (%.4f per dimension, rms)\nmean var:     %.4f\n",
           pos[0], id->name, id->count, id->model_sha256, id->dim, sqrt(n2), sqrt(n2 / id->dim), vs / id->dim);
    xfer_identity_free(&id);
    return 0;
}

static int identity_show(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"model", 'm', "model file (must be the identity's; default: the shipped glowcam-64)", offsetof(struct info_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {"o", 'o', "image to write (PNG or JPEG)", offsetof(struct info_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
        {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(struct info_opts, backend), OPT_STRING, {.s = "auto"}, 0, 0},
        {0}};
    struct info_opts o;
    char **pos;
    int npos;
    int r = cli_parse("identity show", "ID.safetensors -o mean.png [-m MODEL]", opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos != 1 || !o.out) {
        gc_log(GC_LOG_ERROR, "identity show: give one identity file and -o IMAGE");
        return 2;
    }
    struct cli_xfer_env env;
    xfer_identity *id = NULL;
    uint8_t *img = NULL;
    int ret = 1;
    if (cli_xfer_env_open(&env, o.model, o.backend, 0) < 0)
        return 1;
    if (xfer_identity_load(&id, pos[0], env.model) < 0)
        goto fail;
    img = malloc((size_t)env.size * env.size * 3);
    if (!img || glow_decode(env.engine, id->mean, 1, img) < 0 || media_image_write(o.out, img, env.size, env.size) < 0)
        goto fail;
    printf("mean face of %s (%" PRId64 " faces) -> %s\n", id->name, id->count, o.out);
    ret = 0;
fail:
    free(img);
    xfer_identity_free(&id);
    cli_xfer_env_close(&env);
    return ret;
}

int cli_cmd_identity(int argc, char **argv)
{
    const char *usage = "usage: glowcam identity build PHOTOS...|DIR|VIDEO -o ID.safetensors [-m MODEL] [--name N] [--every N]\n"
                        "       glowcam identity info ID.safetensors [-m MODEL]\n"
                        "       glowcam identity show ID.safetensors -o mean.png [-m MODEL]\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "build"))
        return identity_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return identity_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return identity_show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    gc_log(GC_LOG_ERROR, "identity: unknown subcommand '%s'", argv[1]);
    fputs(usage, stderr);
    return 2;
}
