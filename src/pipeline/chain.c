/* glowcam's chain of stages: faces (track, align, crop), glow (encode every face
 * of a batch of frames in one call, transfer, decode in one call), composite
 * (paste back). Frames without a face pass through untouched. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/gc.h"
#include "face/face.h"
#include "glow/glow.h"
#include "media/media.h"
#include "pipeline/pipeline.h"
#include "xfer/xfer.h"

#define MAX_TARGETS 16
#define MAX_CTX 16 /* running-mean contexts kept, one per tracked face */

struct face_ctx {
    int id;           /* -1: free */
    xfer_ctx *x;
    int64_t last_use; /* glow batch counter, for eviction */
    double alpha;     /* alpha and target index the context now has */
    int target;
    double t_first;   /* frame time the track was first seen */
};

struct pl_chain {
    struct pl_chain_params p;
    glow_model *model;
    glow_engine *engine;
    int size;         /* crop side = model image_size */
    size_t dim;       /* latent length */
    enum face_recipe recipe;
    face_detector *det;
    face_landmarker *lm;
    face_tracker *tracker;
    struct face_composite_params cp;
    float *detail_map; /* --detail target: the mean detail of the target's photos (cp.detail_map) */

    struct xfer_params xp;
    xfer_identity *targets[MAX_TARGETS];
    int n_targets;
    xfer_identity *source;
    xfer_attribute *attr;
    xfer_ctx *shared; /* FILE, TWO_PASS and ATTRIBUTE: one context for every face */
    double shared_alpha;
    int shared_target;
    struct face_ctx ctx[MAX_CTX];
    int64_t batches;

    /* track start times, seen by the faces stage */
    struct { int id; double t0; } starts[MAX_CTX];
    /* --smooth > 0: one moving average of the transferred latent per track (glow stage) */
    struct { int id; xfer_smooth *sm; } smooth[MAX_CTX];
    /* each track's last transferred face and the alpha and target it was made with (glow
     * stage): a held face (its region unchanged) gets it again instead of a new encode */
    struct { int id; uint8_t *crop; double alpha; int target; } last[MAX_CTX];
    unsigned char *reuse; /* per face of a glow batch: 1 = gets its track's last face */
    int reuse_cap;

    /* batch buffers of the glow stage */
    uint8_t *imgs;
    float *z, *zo;
    int cap;

    pthread_mutex_t mu; /* the live controls below */
    double alpha;
    int enabled;
    int target;
    int64_t with_face, without_face, faces;
    char desc[512];
};

struct pl_chain_params pl_chain_params_default(void)
{
    struct pl_chain_params p = {
        .method = "linear", .source_mode = "running", .alpha = 0.5, .warmup_s = 3.0, .backend = "auto",
        .max_batch = 8, .max_faces = 1, .detect_interval = 8, .detail = "narrow", .detail_gain = 0.5,
        .decode_bits = 8,
    };
    return p;
}

static int load_targets(pl_chain *c, const char *list)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (c->n_targets == MAX_TARGETS) {
            gc_log(GC_LOG_ERROR, "at most %d targets", MAX_TARGETS);
            return -EINVAL;
        }
        int r = xfer_identity_load(&c->targets[c->n_targets], t, c->model);
        if (r < 0)
            return r;
        c->n_targets++;
    }
    if (!c->n_targets) {
        gc_log(GC_LOG_ERROR, "no target identity given (--target ID.safetensors)");
        return -EINVAL;
    }
    return 0;
}

/* --detail target: the detail layer of each photo's largest face, aligned as the model's
 * crops at DETAIL_MAP_SCALE times their size, averaged. What the target's photos hold above
 * the model's resolution, to paste instead of the source frame's own (which carries the
 * source's identity). */
#define DETAIL_MAP_SCALE 4
static int build_detail_map(pl_chain *c, const struct pl_chain_params *pp)
{
    if (pp->n_detail_photos <= 0) {
        gc_log(GC_LOG_ERROR, "detail target: needs photos of the target (--detail-photos)");
        return -EINVAL;
    }
    const int R = DETAIL_MAP_SCALE * c->size;
    const size_t n = (size_t)R * R;
    uint8_t *crop = malloc(n * 3);
    c->detail_map = calloc(n, sizeof(float));
    if (!crop || !c->detail_map) {
        free(crop);
        return -ENOMEM;
    }
    int used = 0, r = 0;
    for (int i = 0; i < pp->n_detail_photos && r >= 0; i++) {
        uint8_t *rgb = NULL;
        int w, h;
        struct face f[4];
        float m[6];
        if ((r = media_image_read(pp->detail_photos[i], &rgb, &w, &h)) < 0)
            break;
        int best = face_largest(f, face_find(c->det, c->lm, rgb, w, h, 0, 0, f, 4));
        if (best < 0 || face_align_transform(c->recipe, f[best].pts, R, m) < 0) {
            gc_log(GC_LOG_WARN, "%s: no face found, not used for the detail", pp->detail_photos[i]);
        } else if ((r = face_warp(rgb, w, h, 0, m, crop, R, 0)) >= 0) {
            float *d = face_detail_layer(crop, R, c->size, c->cp.detail_res);
            if (!d)
                r = -ENOMEM;
            for (size_t j = 0; d && j < n; j++)
                c->detail_map[j] += d[j];
            free(d);
            used++;
        }
        free(rgb);
    }
    free(crop);
    if (r >= 0 && !used) {
        gc_log(GC_LOG_ERROR, "detail target: no face in any of the %d photos", pp->n_detail_photos);
        r = -EINVAL;
    }
    if (r < 0)
        return r;
    for (size_t j = 0; j < n; j++)
        c->detail_map[j] /= (float)used;
    c->cp.detail_map = c->detail_map;
    c->cp.detail_map_size = R;
    gc_log(GC_LOG_INFO, "detail target: the mean detail of %d photo(s) at %dx%d", used, R, R);
    return 0;
}

int pl_chain_create(pl_chain **out, const struct pl_chain_params *pp)
{
    int r;
    *out = NULL;
    pl_chain *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->p = *pp;
    for (int i = 0; i < MAX_CTX; i++)
        c->ctx[i].id = c->starts[i].id = c->smooth[i].id = c->last[i].id = -1;
    c->enabled = 1;
    c->alpha = pp->alpha;
    int max_faces = pp->max_faces < 1 ? 1 : pp->max_faces > PL_MAX_FACES ? PL_MAX_FACES : pp->max_faces;
    c->p.max_faces = max_faces;
    c->reuse_cap = (pp->max_batch > 0 ? pp->max_batch : 8) * PL_MAX_FACES;
    if (!(c->reuse = calloc((size_t)c->reuse_cap, 1))) {
        r = -ENOMEM;
        goto fail;
    }

    if ((r = glow_model_load(&c->model, pp->model)) < 0)
        goto fail;
    const struct glow_config *cfg = glow_model_config(c->model);
    c->size = cfg->image_size;
    c->dim = glow_latent_size(c->model);
    if ((r = face_recipe_parse(glow_alignment_name(cfg->alignment), &c->recipe)) < 0)
        goto fail;
    struct glow_params gp = glow_params_default();
    if ((r = glow_backend_parse(pp->backend ? pp->backend : "auto", &gp.backend)) < 0) {
        gc_log(GC_LOG_ERROR, "unknown backend '%s' (auto, vulkan, cpu, reference)", pp->backend);
        goto fail;
    }
    gp.max_batch = pp->max_batch > 0 ? pp->max_batch : 8;
    gp.threads = pp->threads;
    gp.decode_bits = pp->decode_bits;
    if ((r = glow_engine_create(&c->engine, c->model, &gp)) < 0)
        goto fail;

    /* transfer parameters */
    c->xp = xfer_params_default();
    if ((r = xfer_method_parse(pp->method ? pp->method : "linear", &c->xp.method)) < 0)
        goto fail;
    if ((r = xfer_source_parse(pp->source_mode ? pp->source_mode : "running", &c->xp.source)) < 0)
        goto fail;
    if (pp->level_weights && (r = xfer_level_weights_parse(pp->level_weights, &c->xp)) < 0)
        goto fail;
    c->xp.warmup_s = pp->warmup_s;
    c->xp.alpha = pp->alpha;
    c->shared_alpha = pp->alpha;
    if (c->xp.method == XFER_METHOD_ATTRIBUTE) {
        if (!pp->attribute) {
            gc_log(GC_LOG_ERROR, "method attribute needs --attribute ATTR.safetensors");
            r = -EINVAL;
            goto fail;
        }
        if ((r = xfer_attribute_load(&c->attr, pp->attribute, c->model)) < 0)
            goto fail;
    } else {
        if ((r = load_targets(c, pp->target ? pp->target : "")) < 0)
            goto fail;
        if (c->xp.source == XFER_SOURCE_FILE) {
            if (!pp->source) {
                gc_log(GC_LOG_ERROR, "source mode 'file' needs --source ID.safetensors");
                r = -EINVAL;
                goto fail;
            }
            if ((r = xfer_identity_load(&c->source, pp->source, c->model)) < 0)
                goto fail;
        }
    }
    if (c->xp.method == XFER_METHOD_ATTRIBUTE || c->xp.source != XFER_SOURCE_RUNNING) {
        if ((r = xfer_ctx_create(&c->shared, c->model, &c->xp, c->n_targets ? c->targets[0] : NULL, c->source,
                                 c->attr)) < 0)
            goto fail;
    }

    /* faces */
    /* video: the tracker detects again every few frames, so the upsampled and mirrored
     * retries (several times the cost, on every frame without a face) buy little */
    struct face_detector_params dp = face_detector_params_default();
    dp.retry = pp->still ? 1 : 0;
    if ((r = face_detector_create(&c->det, &dp)) < 0 || (r = face_landmarker_create(&c->lm, NULL)) < 0)
        goto fail;
    struct face_tracker_params tp = face_tracker_params_default();
    tp.max_faces = max_faces;
    if (pp->detect_interval > 0)
        tp.detect_interval = pp->detect_interval;
    if ((r = face_tracker_create(&c->tracker, c->det, c->lm, &tp)) < 0)
        goto fail;
    c->cp = face_composite_params_default();
    if (face_detail_parse(pp->detail, (float)pp->detail_gain, &c->cp) < 0) {
        gc_log(GC_LOG_ERROR, "detail: unknown band '%s' or gain %g (none, full, narrow or target; gain 0..4)",
               pp->detail ? pp->detail : "-", pp->detail_gain);
        r = -EINVAL;
        goto fail;
    }

    if (pp->detail && !strcmp(pp->detail, "target")) {
        if ((r = build_detail_map(c, pp)) < 0)
            goto fail;
    } else if (pp->n_detail_photos > 0) {
        gc_log(GC_LOG_ERROR, "detail photos are for --detail target (the detail is '%s')", pp->detail ? pp->detail : "none");
        r = -EINVAL;
        goto fail;
    }

    snprintf(c->desc, sizeof(c->desc), "model %s (%dx%d, %s), %s, method %s, source mean %s, alpha %g, smooth %g, target %s",
             glow_model_path(c->model), c->size, c->size, glow_alignment_name(cfg->alignment),
             glow_engine_describe(c->engine), xfer_method_name(c->xp.method), xfer_source_name(c->xp.source),
             pp->alpha, pp->smooth, c->n_targets ? c->targets[0]->name : "-");
    *out = c;
    return 0;
fail:
    pl_chain_free(&c);
    return r < 0 ? r : -EINVAL;
}

void pl_chain_free(pl_chain **pc)
{
    pl_chain *c = *pc;
    if (!c)
        return;
    for (int i = 0; i < MAX_CTX; i++) {
        xfer_ctx_free(&c->ctx[i].x);
        xfer_smooth_free(&c->smooth[i].sm);
        free(c->last[i].crop);
    }
    xfer_ctx_free(&c->shared);
    for (int i = 0; i < c->n_targets; i++)
        xfer_identity_free(&c->targets[i]);
    xfer_identity_free(&c->source);
    xfer_attribute_free(&c->attr);
    face_tracker_free(&c->tracker);
    face_landmarker_free(&c->lm);
    face_detector_free(&c->det);
    glow_engine_free(&c->engine);
    glow_model_free(&c->model);
    free(c->imgs);
    free(c->z);
    free(c->zo);
    free(c->reuse);
    free(c->detail_map);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *pc = NULL;
}

const char *pl_chain_describe(const pl_chain *c) { return c->desc; }

/* ---- live controls ---- */

void pl_chain_set_alpha(pl_chain *c, double alpha)
{
    pthread_mutex_lock(&c->mu);
    c->alpha = alpha < 0 ? 0 : alpha > 2 ? 2 : alpha;
    pthread_mutex_unlock(&c->mu);
}

double pl_chain_alpha(const pl_chain *c)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    double a = c->alpha;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return a;
}

void pl_chain_toggle(pl_chain *c)
{
    pthread_mutex_lock(&c->mu);
    c->enabled = !c->enabled;
    pthread_mutex_unlock(&c->mu);
}

int pl_chain_enabled(const pl_chain *c)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    int e = c->enabled;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return e;
}

const char *pl_chain_next_target(pl_chain *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_targets)
        c->target = (c->target + 1) % c->n_targets;
    pthread_mutex_unlock(&c->mu);
    return pl_chain_target_name(c);
}

const char *pl_chain_target_name(const pl_chain *c)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    const char *n = c->n_targets ? c->targets[c->target]->name : "attribute";
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return n;
}

void pl_chain_counts(const pl_chain *c, int64_t *with, int64_t *without, int64_t *faces)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    *with = c->with_face;
    *without = c->without_face;
    *faces = c->faces;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
}

/* ---- stage: faces ---- */

static int ensure_crops(pl_chain *c, pl_frame *f)
{
    if (f->crops)
        return 0;
    f->crop_size = c->size;
    f->crops = malloc((size_t)PL_MAX_FACES * c->size * c->size * 3);
    return f->crops ? 0 : -ENOMEM;
}

/* Per-track tables (starts, smooth, last) keep MAX_CTX entries whose first member is the track id
 * (-1 = free). Returns id's slot with *found = 1, else a free slot, else the oldest track's (ids
 * only grow: the smallest is the oldest) with *found = 0. */
static int track_slot(const void *table, size_t entry_size, int id, int *found)
{
#define SLOT_ID(i) (*(const int *)((const char *)table + (size_t)(i) * entry_size))
    int free_i = -1, oldest = 0;
    *found = 0;
    for (int i = 0; i < MAX_CTX; i++) {
        if (SLOT_ID(i) == id) {
            *found = 1;
            return i;
        }
        if (SLOT_ID(i) < 0 && free_i < 0)
            free_i = i;
        if (SLOT_ID(i) < SLOT_ID(oldest))
            oldest = i;
    }
#undef SLOT_ID
    return free_i >= 0 ? free_i : oldest;
}

static double track_start(pl_chain *c, int id, double t)
{
    int found, i = track_slot(c->starts, sizeof(c->starts[0]), id, &found);
    if (found)
        return c->starts[i].t0;
    c->starts[i].id = id;
    c->starts[i].t0 = t;
    return t;
}

/* Fills f->faces from tracks (or still-image faces) and cuts their aligned crops. */
static int cut_faces(pl_chain *c, pl_frame *f, const struct face_track *tr, int n)
{
    int r = ensure_crops(c, f);
    if (r < 0)
        return r;
    f->n_faces = 0;
    for (int i = 0; i < n && f->n_faces < c->p.max_faces; i++) {
        struct pl_face *pf = &f->faces[f->n_faces];
        if (face_align_transform(c->recipe, tr[i].pts, c->size, pf->m) < 0)
            continue; /* degenerate landmarks: leave this face alone */
        pf->crop = f->crops + (size_t)f->n_faces * c->size * c->size * 3;
        if (face_warp(f->rgb, f->w, f->h, 0, pf->m, pf->crop, c->size, 0) < 0)
            continue;
        pf->id = tr[i].id;
        pf->held = tr[i].held;
        memcpy(pf->pts, tr[i].pts, sizeof(pf->pts));
        pf->t_track = f->info.t - track_start(c, tr[i].id, f->info.t);
        pf->done = 0;
        f->n_faces++;
    }
    pthread_mutex_lock(&c->mu);
    if (f->n_faces)
        c->with_face++;
    else
        c->without_face++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int stage_faces(void *ctx, pl_frame **fr, int n)
{
    pl_chain *c = ctx;
    struct face_track tr[PL_MAX_FACES];
    for (int i = 0; i < n; i++) {
        pl_frame *f = fr[i];
        f->n_faces = 0;
        int k = face_tracker_update(c->tracker, f->rgb, f->w, f->h, 0, f->info.t, tr, c->p.max_faces);
        if (k < 0)
            return k;
        int r = cut_faces(c, f, tr, k);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- stage: glow ---- */

static int ensure_batch(pl_chain *c, int n)
{
    if (n <= c->cap)
        return 0;
    free(c->imgs);
    free(c->z);
    free(c->zo);
    c->imgs = malloc((size_t)n * c->size * c->size * 3);
    c->z = malloc((size_t)n * c->dim * sizeof(float));
    c->zo = malloc((size_t)n * c->dim * sizeof(float));
    c->cap = (c->imgs && c->z && c->zo) ? n : 0;
    return c->cap ? 0 : -ENOMEM;
}

/* Brings a context to the live alpha and target (xfer keeps its running statistics). */
static int sync_ctx(pl_chain *c, xfer_ctx *x, double *have_alpha, int *have_target, double alpha, int target)
{
    if (*have_alpha != alpha) {
        xfer_ctx_set_alpha(x, alpha);
        *have_alpha = alpha;
    }
    if (c->n_targets && *have_target != target) {
        int r = xfer_ctx_set_target(x, c->targets[target]);
        if (r < 0)
            return r;
        *have_target = target;
    }
    return 0;
}

/* The context for a face: the shared one, or the running mean of its track. */
static xfer_ctx *ctx_for(pl_chain *c, int id, double alpha, int target, int *err)
{
    *err = 0;
    if (c->shared) {
        *err = sync_ctx(c, c->shared, &c->shared_alpha, &c->shared_target, alpha, target);
        return *err < 0 ? NULL : c->shared;
    }
    int lru = -1;
    for (int i = 0; i < MAX_CTX; i++) {
        if (c->ctx[i].id == id) {
            c->ctx[i].last_use = c->batches;
            *err = sync_ctx(c, c->ctx[i].x, &c->ctx[i].alpha, &c->ctx[i].target, alpha, target);
            return *err < 0 ? NULL : c->ctx[i].x;
        }
        if (lru < 0 && c->ctx[i].id < 0)
            lru = i;
    }
    if (lru < 0) /* all in use: the least recently used track gives its slot */
        for (int i = lru = 0; i < MAX_CTX; i++)
            if (c->ctx[i].last_use < c->ctx[lru].last_use)
                lru = i;
    struct face_ctx *fc = &c->ctx[lru];
    xfer_ctx_free(&fc->x);
    fc->id = -1;
    struct xfer_params xp = c->xp;
    xp.alpha = alpha;
    if ((*err = xfer_ctx_create(&fc->x, c->model, &xp, c->targets[target], NULL, NULL)) < 0)
        return NULL;
    fc->id = id;
    fc->last_use = c->batches;
    fc->alpha = alpha;
    fc->target = target;
    return fc->x;
}

/* The moving average of track id (a new track starts a fresh one), or NULL when
 * smoothing is off; *err < 0 if it could not be made. */
static xfer_smooth *smooth_for(pl_chain *c, int id, int *err)
{
    *err = 0;
    if (!(c->p.smooth > 0))
        return NULL;
    int found, i = track_slot(c->smooth, sizeof(c->smooth[0]), id, &found);
    if (found)
        return c->smooth[i].sm;
    if (!c->smooth[i].sm && (*err = xfer_smooth_create(&c->smooth[i].sm, c->dim, c->p.smooth)) < 0)
        return NULL;
    xfer_smooth_reset(c->smooth[i].sm);
    c->smooth[i].id = id;
    return c->smooth[i].sm;
}

/* The slot of track id's last transferred face; with make, a slot for it (the oldest track's
 * when full; -1 on no memory). */
static int last_slot(pl_chain *c, int id, int make)
{
    int found, i = track_slot(c->last, sizeof(c->last[0]), id, &found);
    if (found)
        return i;
    if (!make)
        return -1;
    if (!c->last[i].crop && !(c->last[i].crop = malloc((size_t)c->size * c->size * 3)))
        return -1;
    c->last[i].id = id;
    c->last[i].alpha = -1;
    return i;
}

/* Marks the faces that get their track's last transferred face again (reuse[k] = 1): held
 * (the region did not change), with one made by this alpha and target before them, in this
 * batch or an earlier one, and not in a running mean's warm-up (whose output still changes). */
static void plan_reuse(pl_chain *c, pl_frame **fr, int n, double alpha, int target, unsigned char *reuse)
{
    int seen[PL_MAX_FACES * 64], n_seen = 0, k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < fr[i]->n_faces; j++, k++) {
            const struct pl_face *pf = &fr[i]->faces[j];
            int ok = 0;
            if (pf->held && !(c->xp.source == XFER_SOURCE_RUNNING && pf->t_track < c->xp.warmup_s)) {
                for (int s = 0; s < n_seen && !ok; s++)
                    ok = seen[s] == pf->id;
                int l = ok ? -1 : last_slot(c, pf->id, 0);
                ok |= l >= 0 && c->last[l].alpha == alpha && c->last[l].target == target;
            }
            reuse[k] = (unsigned char)ok;
            if (n_seen < (int)(sizeof(seen) / sizeof(seen[0])))
                seen[n_seen++] = pf->id;
        }
}

/* Gathers the faces of n frames into c->imgs, all or those with !skip[k]; returns the count or <0. */
static int gather(pl_chain *c, pl_frame **fr, int n, const unsigned char *skip)
{
    int total = 0, all = 0;
    for (int i = 0; i < n; i++)
        all += fr[i]->n_faces;
    for (int k = 0; k < all; k++)
        total += !(skip && skip[k]);
    if (!total)
        return 0;
    int r = ensure_batch(c, total);
    if (r < 0)
        return r;
    size_t isz = (size_t)c->size * c->size * 3;
    int k = 0, q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < fr[i]->n_faces; j++, q++)
            if (!(skip && skip[q]))
                memcpy(c->imgs + isz * k++, fr[i]->faces[j].crop, isz);
    return total;
}

static int stage_glow(void *ctx, pl_frame **fr, int n)
{
    pl_chain *c = ctx;
    pthread_mutex_lock(&c->mu);
    int enabled = c->enabled, target = c->target;
    double alpha = c->alpha;
    pthread_mutex_unlock(&c->mu);
    if (!enabled)
        return 0;
    int all = 0;
    for (int i = 0; i < n; i++)
        all += fr[i]->n_faces;
    if (!all)
        return 0;
    if (all > c->reuse_cap)
        return -EINVAL; /* more frames than the stage's batch */
    plan_reuse(c, fr, n, alpha, target, c->reuse);
    int total = gather(c, fr, n, c->reuse), r = 0;
    if (total < 0)
        return total;
    c->batches++;
    if (total > 0 && (r = glow_encode(c->engine, c->imgs, total, c->z, NULL)) < 0)
        return r;
    int k = 0, q = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < fr[i]->n_faces; j++, q++) {
            if (c->reuse[q])
                continue;
            struct pl_face *pf = &fr[i]->faces[j];
            xfer_ctx *x = ctx_for(c, pf->id, alpha, target, &r);
            if (!x)
                return r;
            const float *z = c->z + c->dim * k;
            float *zo = c->zo + c->dim * k;
            k++;
            if ((r = xfer_ctx_apply(x, z, zo, pf->t_track)) < 0)
                return r;
            xfer_smooth *sm = smooth_for(c, pf->id, &r);
            if (r < 0)
                return r;
            if (sm)
                xfer_smooth_apply(sm, zo);
        }
    }
    if (total > 0 && (r = glow_decode(c->engine, c->zo, total, c->imgs)) < 0)
        return r;
    /* in frame order, so a held face finds the face its track made just before */
    size_t isz = (size_t)c->size * c->size * 3;
    k = q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < fr[i]->n_faces; j++, q++) {
            struct pl_face *pf = &fr[i]->faces[j];
            int l = last_slot(c, pf->id, !c->reuse[q]);
            if (c->reuse[q]) {
                if (l < 0) /* its slot could not be made: left as it is */
                    continue;
                memcpy(pf->crop, c->last[l].crop, isz);
            } else {
                memcpy(pf->crop, c->imgs + isz * k++, isz);
                if (l >= 0) {
                    memcpy(c->last[l].crop, pf->crop, isz);
                    c->last[l].alpha = alpha;
                    c->last[l].target = target;
                }
            }
            pf->done = 1;
        }
    pthread_mutex_lock(&c->mu);
    c->faces += total;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- stage: composite ---- */

static int stage_composite(void *ctx, pl_frame **fr, int n)
{
    pl_chain *c = ctx;
    for (int i = 0; i < n; i++) {
        pl_frame *f = fr[i];
        for (int j = 0; j < f->n_faces; j++) {
            struct pl_face *pf = &f->faces[j];
            if (!pf->done)
                continue;
            int r = face_composite(f->rgb, f->w, f->h, 0, pf->crop, c->size, pf->m, pf->pts, &c->cp);
            if (r < 0)
                gc_log(GC_LOG_DEBUG, "frame %lld: face %d not pasted: %s", (long long)f->info.index, pf->id,
                       gc_strerror(r));
        }
    }
    return 0;
}

int pl_chain_stages(pl_chain *c, struct pl_stage *st, int max)
{
    if (max < 3)
        return -EINVAL;
    st[0] = (struct pl_stage){"faces", stage_faces, c, 1};
    st[1] = (struct pl_stage){"glow", stage_glow, c, c->p.max_batch > 0 ? c->p.max_batch : 8};
    st[2] = (struct pl_stage){"composite", stage_composite, c, 1};
    return 3;
}

/* ---- two-pass: the first pass only observes ---- */

static int stage_observe(void *ctx, pl_frame **fr, int n)
{
    pl_chain *c = ctx;
    int total = gather(c, fr, n, NULL);
    if (total <= 0)
        return total;
    int r = glow_encode(c->engine, c->imgs, total, c->z, NULL);
    for (int k = 0; r >= 0 && k < total; k++)
        r = xfer_ctx_observe(c->shared, c->z + c->dim * k);
    return r < 0 ? r : 0;
}

int pl_chain_observe_stages(pl_chain *c, struct pl_stage *st, int max)
{
    if (max < 2 || !c->shared || c->xp.source != XFER_SOURCE_TWO_PASS)
        return -EINVAL;
    st[0] = (struct pl_stage){"faces", stage_faces, c, 1};
    st[1] = (struct pl_stage){"observe", stage_observe, c, c->p.max_batch > 0 ? c->p.max_batch : 8};
    return 2;
}

int pl_chain_end_pass(pl_chain *c)
{
    face_tracker_reset(c->tracker);
    for (int i = 0; i < MAX_CTX; i++)
        c->starts[i].id = c->smooth[i].id = c->last[i].id = -1;
    pthread_mutex_lock(&c->mu);
    c->with_face = c->without_face = c->faces = 0;
    pthread_mutex_unlock(&c->mu);
    int r = xfer_ctx_end_pass(c->shared);
    if (r < 0)
        gc_log(GC_LOG_ERROR, "two-pass: no face was found in the first pass, so there is no source mean");
    return r;
}

/* ---- one still image ---- */

int pl_chain_process(pl_chain *c, pl_frame *f)
{
    struct face faces[PL_MAX_FACES];
    int k = face_find(c->det, c->lm, f->rgb, f->w, f->h, 0, 0, faces, c->p.max_faces);
    if (k < 0)
        return k;
    struct face_track tr[PL_MAX_FACES];
    memset(tr, 0, sizeof(tr));
    for (int i = 0; i < k; i++) {
        tr[i].id = i;
        tr[i].box = faces[i].box;
        memcpy(tr[i].pts, faces[i].pts, sizeof(tr[i].pts));
    }
    int r = cut_faces(c, f, tr, k);
    if (r < 0)
        return r;
    if (c->xp.source == XFER_SOURCE_TWO_PASS && f->n_faces) {
        if ((r = stage_observe(c, &f, 1)) < 0 || (r = xfer_ctx_end_pass(c->shared)) < 0)
            return r;
    }
    for (int i = 0; i < MAX_CTX; i++) /* still images: every face is its own, nothing to average */
        c->smooth[i].id = -1;
    pl_frame *one[1] = {f};
    if ((r = stage_glow(c, one, 1)) < 0)
        return r;
    return stage_composite(c, one, 1);
}
