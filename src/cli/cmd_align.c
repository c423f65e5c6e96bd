/* glowcam align: aligned face crops from images, a directory or a video (training sets,
 * identities), so training and run time see faces aligned the same way. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/face_cli.h"
#include "cli/opts.h"
#include "common/gc.h"
#include "face/face.h"
#include "media/media.h"

/* ---- shared helpers (face_cli.h) ---- */

int cli_face_is_video(const char *path)
{
    static const char *const ext[] = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".y4m", ".flv", ".ts", NULL};
    size_t l = strlen(path);
    for (int i = 0; ext[i]; i++) {
        size_t e = strlen(ext[i]);
        if (l > e && !strcasecmp(path + l - e, ext[i]))
            return 1;
    }
    return 0;
}

static int is_image_name(const char *name)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", NULL};
    size_t l = strlen(name);
    for (int i = 0; ext[i]; i++) {
        size_t e = strlen(ext[i]);
        if (l > e && !strcasecmp(name + l - e, ext[i]))
            return 1;
    }
    return 0;
}

static int push_path(struct cli_face_inputs *in, int *cap, const char *a, const char *b)
{
    if (in->n == *cap) {
        int nc = *cap ? *cap * 2 : 256;
        char **p = realloc(in->paths, (size_t)nc * sizeof(char *));
        if (!p)
            return -ENOMEM;
        in->paths = p;
        *cap = nc;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = malloc(la + lb + 2);
    if (!s)
        return -ENOMEM;
    memcpy(s, a, la + 1);
    if (b) {
        s[la] = '/';
        memcpy(s + la + 1, b, lb + 1);
    }
    in->paths[in->n++] = s;
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cli_face_inputs_collect(struct cli_face_inputs *in, char **args, int nargs)
{
    memset(in, 0, sizeof(*in));
    int cap = 0, r = 0;
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            gc_log(GC_LOG_ERROR, "%s: no such file or directory", args[i]);
            r = -ENOENT;
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(args[i]);
            if (!d) {
                gc_log(GC_LOG_ERROR, "%s: cannot open directory", args[i]);
                r = -EIO;
                goto fail;
            }
            int first = in->n;
            struct dirent *e;
            while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || !is_image_name(e->d_name))
                    continue;
                if ((r = push_path(in, &cap, args[i], e->d_name)) < 0) {
                    closedir(d);
                    goto fail;
                }
            }
            closedir(d);
            if (in->n == first) {
                gc_log(GC_LOG_ERROR, "%s: no images (.png, .jpg, ...) in this directory", args[i]);
                r = -ENOENT;
                goto fail;
            }
            qsort(in->paths + first, (size_t)(in->n - first), sizeof(char *), cmp_str);
        } else if (cli_face_is_video(args[i])) {
            if (nargs != 1) {
                gc_log(GC_LOG_ERROR, "%s: a video must be the only input", args[i]);
                r = -EINVAL;
                goto fail;
            }
            in->is_video = 1;
            if ((r = push_path(in, &cap, args[i], NULL)) < 0)
                goto fail;
        } else if ((r = push_path(in, &cap, args[i], NULL)) < 0) {
            goto fail;
        }
    }
    return 0;
fail:
    cli_face_inputs_free(in);
    return r;
}

void cli_face_inputs_free(struct cli_face_inputs *in)
{
    for (int i = 0; i < in->n; i++)
        free(in->paths[i]);
    free(in->paths);
    memset(in, 0, sizeof(*in));
}

/* ---- glowcam align ---- */

struct align_opts {
    const char *out;
    int size;
    const char *recipe;
    int jobs;
    int all;
    double min_face;
    int mirror;
    int every;
    int progress;
    int reflect;
    double max_outside;
};

static const struct cli_opt align_opts_table[] = {
    {"o", 'o', "output directory (created if missing)", offsetof(struct align_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
    {"size", 's', "crop side in pixels", offsetof(struct align_opts, size), OPT_INT, {.i = 64}, 8, 4096},
    {"recipe", 'r', "alignment: openai-eyes or ffhq-quad (as the model's `alignment`)", offsetof(struct align_opts, recipe), OPT_STRING, {.s = "openai-eyes"}, 0, 0},
    {"jobs", 'j', "worker threads for images (0: one per core)", offsetof(struct align_opts, jobs), OPT_INT, {.i = 0}, 0, 64},
    {"all", 0, "every face of an image, not only the largest", offsetof(struct align_opts, all), OPT_FLAG, {0}, 0, 0},
    {"min-face", 0, "smallest face side in pixels to look for (0: auto, min(80, side/3))", offsetof(struct align_opts, min_face), OPT_FLOAT, {.f = 0}, 0, 10000},
    {"mirror-fit", 0, "average the landmarks of the face and its mirror image (1) or not (0)", offsetof(struct align_opts, mirror), OPT_INT, {.i = 1}, 0, 1},
    {"every", 0, "video: take every N-th frame", offsetof(struct align_opts, every), OPT_INT, {.i = 1}, 1, 100000},
    {"reflect", 0, "mirror the image at its borders (default: replicate the edge pixels)", offsetof(struct align_opts, reflect), OPT_FLAG, {0}, 0, 0},
    {"max-outside", 0, "skip a face whose crop lies more than this fraction outside the image", offsetof(struct align_opts, max_outside), OPT_FLOAT, {.f = 1}, 0, 1},
    {"progress", 0, "print key=value progress lines", offsetof(struct align_opts, progress), OPT_FLAG, {0}, 0, 0},
    {0}};

struct align_job {
    const struct align_opts *o;
    enum face_recipe recipe;
    const struct cli_face_inputs *in;
    const face_landmarker *lm;
    atomic_int next;
    atomic_int done, written, noface, unreadable, failed, outside;
    pthread_mutex_t log_lock;
};

/* out/<name of in without directory and extension><suffix>.png */
static void out_name(char *buf, size_t n, const char *dir, const char *in, const char *suffix)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    const char *dot = strrchr(base, '.');
    int bl = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(buf, n, "%s/%.*s%s.png", dir, bl, base, suffix);
}

/* Fraction of the crop's pixels whose source lies outside the image (filled by the border rule). */
static double outside_fraction(const float m[6], int w, int h, int size)
{
    float inv[6];
    if (face_transform_invert(m, inv) < 0)
        return 1;
    int out = 0, n = 0;
    for (int v = 0; v < size; v += 2)
        for (int u = 0; u < size; u += 2, n++) {
            float x, y;
            face_transform_point(inv, (float)u, (float)v, &x, &y);
            out += x < -0.5f || y < -0.5f || x > w - 0.5f || y > h - 0.5f;
        }
    return (double)out / n;
}

/* Aligns the faces of one image into out; returns crops written (0: no face) or <0. */
static int align_faces(const struct align_opts *o, enum face_recipe recipe, face_detector *det,
                       const face_landmarker *lm, const uint8_t *rgb, int w, int h, const char *name,
                       const char *extra_suffix, uint8_t *crop, int *outside)
{
    struct face faces[16];
    int n = face_find(det, lm, rgb, w, h, 0, o->min_face, faces, o->all ? 16 : 4);
    if (n <= 0)
        return n;
    int first = o->all ? 0 : face_largest(faces, n), last = o->all ? n : first + 1, written = 0;
    for (int i = first; i < last; i++) {
        float m[6];
        if (face_align_transform(recipe, faces[i].pts, o->size, m) < 0)
            continue;
        if (o->max_outside < 1 && outside_fraction(m, w, h, o->size) > o->max_outside) {
            (*outside)++;
            continue;
        }
        int r = face_warp(rgb, w, h, 0, m, crop, o->size, o->reflect ? FACE_WARP_REFLECT : 0);
        if (r < 0)
            return r;
        char suffix[64], path[4096];
        if (o->all && n > 1)
            snprintf(suffix, sizeof(suffix), "%s_%d", extra_suffix, i);
        else
            snprintf(suffix, sizeof(suffix), "%s", extra_suffix);
        out_name(path, sizeof(path), o->out, name, suffix);
        if ((r = media_image_write(path, crop, o->size, o->size)) < 0)
            return r;
        written++;
    }
    return written;
}

static void *align_worker(void *arg)
{
    struct align_job *j = arg;
    face_detector *det = NULL;
    uint8_t *crop = malloc((size_t)j->o->size * j->o->size * 3);
    if (!crop || face_detector_create(&det, NULL) < 0) {
        free(crop);
        atomic_fetch_add(&j->failed, 1);
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->in->n || atomic_load(&j->failed))
            break;
        const char *path = j->in->paths[i];
        uint8_t *rgb = NULL;
        int w, h;
        if (media_image_read(path, &rgb, &w, &h) < 0) {
            atomic_fetch_add(&j->unreadable, 1); /* media_image_read said why */
        } else {
            int outside = 0;
            int r = align_faces(j->o, j->recipe, det, j->lm, rgb, w, h, path, "", crop, &outside);
            atomic_fetch_add(&j->outside, outside);
            if (r < 0)
                atomic_fetch_add(&j->failed, 1);
            else if (r == 0 && outside == 0)
                atomic_fetch_add(&j->noface, 1);
            else
                atomic_fetch_add(&j->written, r);
            free(rgb);
        }
        atomic_fetch_add(&j->done, 1);
    }
    face_detector_free(&det);
    free(crop);
    return NULL;
}

static void report_progress(const struct align_opts *o, int done, int total, int written, double t0, int final)
{
    double dt = gc_time() - t0;
    if (o->progress) {
        printf("done=%d\ntotal=%d\nwritten=%d\nimages_per_s=%.1f\nprogress=%s\n", done, total, written,
               dt > 0 ? done / dt : 0, final ? "end" : "continue");
        fflush(stdout);
    } else if (isatty(2)) {
        fprintf(stderr, "\ralign: %d/%d images, %d crops, %.1f images/s%s", done, total, written,
                dt > 0 ? done / dt : 0, final ? "\n" : "");
    }
}

static int align_images(const struct align_opts *o, enum face_recipe recipe, const struct cli_face_inputs *in,
                        const face_landmarker *lm, int *written, int *noface, int *unreadable, int *outside)
{
    int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    if (jobs > in->n)
        jobs = in->n;
    struct align_job j = {.o = o, .recipe = recipe, .in = in, .lm = lm};
    pthread_t th[64];
    int started = 0;
    double t0 = gc_time();
    for (; started < jobs; started++)
        if (pthread_create(&th[started], NULL, align_worker, &j) != 0)
            break;
    if (!started) {
        gc_log(GC_LOG_ERROR, "align: cannot start worker threads");
        return -EAGAIN;
    }
    while (atomic_load(&j.done) < in->n && atomic_load(&j.failed) == 0) {
        usleep(200000);
        report_progress(o, atomic_load(&j.done), in->n, atomic_load(&j.written), t0, 0);
        /* all workers may have exited early (failure) */
        if (atomic_load(&j.next) >= in->n + started && atomic_load(&j.done) < in->n)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    report_progress(o, atomic_load(&j.done), in->n, atomic_load(&j.written), t0, 1);
    double dt = gc_time() - t0;
    gc_log(GC_LOG_INFO, "align: %d images in %.1f s (%.1f images/s, %d threads)", in->n, dt, in->n / dt, started);
    *written = atomic_load(&j.written);
    *noface = atomic_load(&j.noface);
    *unreadable = atomic_load(&j.unreadable);
    *outside = atomic_load(&j.outside);
    return atomic_load(&j.failed) ? -EIO : 0;
}

static int align_video(const struct align_opts *o, enum face_recipe recipe, const char *path,
                       const face_landmarker *lm, int *frames, int *written, int *noface, int *outside)
{
    media_source *src = NULL;
    face_detector *det = NULL;
    uint8_t *rgb = NULL, *crop = NULL;
    struct media_source_params sp = media_source_params_default();
    int r = media_source_open(&src, path, &sp);
    if (r < 0)
        return r;
    const struct media_source_info *si = media_source_info(src);
    rgb = malloc((size_t)si->w * si->h * 3);
    crop = malloc((size_t)o->size * o->size * 3);
    if (!rgb || !crop) {
        r = -ENOMEM;
        goto fail;
    }
    if ((r = face_detector_create(&det, NULL)) < 0)
        goto fail;
    struct media_frame_info fi;
    double t0 = gc_time();
    while ((r = media_source_read(src, rgb, &fi)) == 0) {
        if (fi.index % o->every)
            continue;
        char suffix[32];
        snprintf(suffix, sizeof(suffix), "_%06lld", (long long)fi.index);
        int before = *outside;
        int n = align_faces(o, recipe, det, lm, rgb, si->w, si->h, path, suffix, crop, outside);
        if (n < 0) {
            r = n;
            goto fail;
        }
        (*frames)++;
        if (n == 0 && *outside == before)
            (*noface)++;
        *written += n;
        if (*frames % 10 == 0)
            report_progress(o, *frames, (int)(si->nb_frames / o->every), *written, t0, 0);
    }
    if (r == GC_EOF)
        r = 0;
    report_progress(o, *frames, *frames, *written, t0, 1);
fail:
    face_detector_free(&det);
    media_source_close(&src);
    free(rgb);
    free(crop);
    return r;
}

int cli_cmd_align(int argc, char **argv)
{
    struct align_opts o;
    char **pos;
    int npos;
    const char *usage = "IMAGES...|DIR|VIDEO -o DIR [--size S] [--recipe openai-eyes|ffhq-quad] [options]";
    int r = cli_parse("align", usage, align_opts_table, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    enum face_recipe recipe;
    if (npos < 1 || !o.out) {
        gc_log(GC_LOG_ERROR, "align: needs inputs and -o DIR (glowcam align --help)");
        return 2;
    }
    if (face_recipe_parse(o.recipe, &recipe) < 0) {
        gc_log(GC_LOG_ERROR, "align: unknown recipe '%s' (openai-eyes, ffhq-quad)", o.recipe);
        return 2;
    }
    struct cli_face_inputs in;
    if (cli_face_inputs_collect(&in, pos, npos) < 0)
        return 1;
    face_landmarker *lm = NULL;
    int ret = 1, written = 0, noface = 0, unreadable = 0, outside = 0, items = in.n;
    if (make_dirs(o.out) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot create the output directory", o.out);
        goto done;
    }
    if (face_landmarker_create(&lm, NULL) < 0)
        goto done;
    face_landmarker_set_mirror(lm, o.mirror);
    if (in.is_video) {
        items = 0;
        r = align_video(&o, recipe, in.paths[0], lm, &items, &written, &noface, &outside);
    } else {
        r = align_images(&o, recipe, &in, lm, &written, &noface, &unreadable, &outside);
    }
    if (r < 0)
        goto done;
    gc_log(GC_LOG_INFO,
           "align: %d %s, %d crops written to %s, %d without a face, %d faces too far outside, %d unreadable",
           items, in.is_video ? "frames" : "images", written, o.out, noface, outside, unreadable);
    if (written == 0) {
        gc_log(GC_LOG_ERROR, "align: no crop written (%d %s: %d without a face, %d faces too far outside, %d unreadable)",
               items, in.is_video ? "frames" : "images", noface, outside, unreadable);
        goto done;
    }
    ret = 0;
done:
    face_landmarker_free(&lm);
    cli_face_inputs_free(&in);
    return ret;
}
