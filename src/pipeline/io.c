/* Glue the commands share: a media source as a pipeline source, and where the
 * shipped models live. */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gc.h"
#include "pipeline/pipeline.h"

int pl_media_read(void *ctx, pl_frame **out)
{
    struct pl_media_reader *r = ctx;
    *out = NULL;
    if (r->max_frames > 0 && r->frames >= r->max_frames)
        return GC_EOF;
    const struct media_source_info *si = media_source_info(r->src);
    pl_frame *f = pl_frame_new(si->w, si->h, r->keep_input);
    if (!f)
        return -ENOMEM;
    int e = media_source_read(r->src, f->rgb, &f->info);
    if (e < 0) {
        pl_frame_free(&f);
        return e;
    }
    if (f->in)
        memcpy(f->in, f->rgb, (size_t)f->w * f->h * 3);
    r->frames++;
    *out = f;
    return 0;
}

void pl_media_stop(void *ctx)
{
    struct pl_media_reader *r = ctx;
    media_source_stop(r->src);
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int pl_find_model_file(const char *name, char *out, size_t n)
{
    char exe[PATH_MAX], dir[PATH_MAX];
    const char *env = getenv("GLOWCAM_MODELS");
    int first = 1;
#define TRY(...)                                                                                   \
    do {                                                                                           \
        char cand[PATH_MAX * 2];                                                                   \
        snprintf(cand, sizeof(cand), __VA_ARGS__);                                                 \
        if (first || is_file(cand))                                                                \
            snprintf(out, n, "%s", cand);                                                          \
        first = 0;                                                                                 \
        if (is_file(cand))                                                                         \
            return 0;                                                                              \
    } while (0)
    if (env && *env)
        TRY("%s/%s", env, name);
    ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (k > 0) {
        exe[k] = 0;
        snprintf(dir, sizeof(dir), "%s", exe);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        TRY("%s/../models/%s", dir, name);
        TRY("%s/../share/glowcam/models/%s", dir, name);
    }
#ifdef GLOWCAM_SOURCE_DIR
    TRY("%s/models/%s", GLOWCAM_SOURCE_DIR, name);
#endif
#undef TRY
    return -ENOENT;
}
