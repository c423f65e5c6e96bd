/* pipeline: threads and bounded queues joining a frame source, processing stages
 * and a sink (DESIGN.md's data flow), and glowcam's own chain of stages.
 *
 *   // the generic runner: any source, any stages, any sink
 *   struct pl_stage st[] = {{"faces", chain_faces, chain, 1}, {"glow", chain_glow, chain, 8}, ...};
 *   struct pl_params pp = pl_params_default();       // offline: never drops, keeps order
 *   pp.live = 1;                                      // live: drops the oldest frame instead
 *   struct pl_stats stats;
 *   int r = pl_run(&pp, my_read, my_src, st, 3, my_write, my_sink, my_stop, my_src, &stats);
 *
 *   // glowcam's chain: faces -> glow (batched across frames and faces) -> composite
 *   pl_chain *c = NULL;
 *   struct pl_chain_params cp = pl_chain_params_default();
 *   pl_chain_create(&c, &cp);                          // loads model, identities, dlib
 *   int n = pl_chain_stages(c, st, 3);                 // its three stages, to hand to pl_run
 *
 * Ownership: a source callback returns frames made with pl_frame_new(); from then on
 * the runner owns them and frees each one after the sink has seen it (or when it
 * drops it in live mode). Stages change frames in place.
 * Threads: the source and every stage run on their own thread; the sink runs on the
 * thread that called pl_run (so it may own an SDL window).
 */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdint.h>

#include "face/face.h"
#include "media/media.h"

#define PL_MAX_FACES 4   /* faces transferred per frame */
#define PL_MAX_STAGES 8

/* One face of a frame, filled by the chain's faces stage, used by glow and composite. */
struct pl_face {
    int id;                       /* tracker id, stable while the face is tracked */
    double t_track;               /* seconds since its track began (warm-up of a running mean) */
    float m[6];                   /* frame pixel -> crop pixel */
    float pts[FACE_N_POINTS][2];  /* smoothed landmarks in the frame */
    uint8_t *crop;                /* crop_size^2*3: the aligned face, then the transferred face */
    int done;                     /* glow produced the transferred face */
    int held;                     /* the tracker kept its landmarks (the face region did not change) */
};

typedef struct pl_frame {
    uint8_t *rgb;                 /* w*h*3 packed RGB24: the picture stages change in place */
    uint8_t *in;                  /* the untouched input picture when kept (side-by-side), else NULL */
    int w, h;
    struct media_frame_info info;
    int n_faces;
    struct pl_face faces[PL_MAX_FACES];
    uint8_t *crops;               /* PL_MAX_FACES crops, allocated by the chain on demand */
    int crop_size;
} pl_frame;

/* A frame of w x h (keep_input: also room for a copy of the input picture). NULL on ENOMEM. */
pl_frame *pl_frame_new(int w, int h, int keep_input);
void pl_frame_free(pl_frame **f);

/* A stage: run() gets 1..max_batch frames in order and changes them in place.
 * Return 0, or <0 to stop the whole pipeline with that error. */
struct pl_stage {
    const char *name;
    int (*run)(void *ctx, pl_frame **frames, int n);
    void *ctx;
    int max_batch;
};

struct pl_params {
    int live;        /* 0: block when a queue is full (never drop, order kept); 1: the source's
                        queue drops its oldest frame instead (later queues block, so a slow stage
                        makes the drop happen before any work is spent), latency cannot grow; default 0 */
    int queue_size;  /* frames each queue holds, 1..64; default 8 offline; live uses 1 */
    int batch_wait;  /* offline: a batching stage waits for max_batch frames (or the end); default 1 */
};
struct pl_params pl_params_default(void);

struct pl_stage_stats {
    char name[32];
    double busy_s;     /* wall time spent inside the stage's work */
    double cpu_s;      /* CPU time of the stage's own thread in it (helper threads, e.g. BLAS, not counted) */
    int64_t frames;    /* frames it handled */
    int64_t calls;     /* calls (frames / calls = mean batch) */
};

struct pl_stats {
    int n_stages;                                    /* source, stages..., sink */
    struct pl_stage_stats stage[PL_MAX_STAGES + 2];
    int64_t frames_in, frames_out, dropped;
    double wall_s;                                   /* first frame read to last frame out */
    double cpu_s;                                    /* CPU time of the whole process during the run */
    double lat_mean_ms, lat_p50_ms, lat_p95_ms, lat_max_ms; /* capture -> sink done */
};

/* Reads the next frame (made with pl_frame_new): 0, GC_EOF at the end, or <0. */
typedef int (*pl_source_fn)(void *ctx, pl_frame **out);
/* Consumes a frame (the runner frees it after): 0, 1 to stop (a quit key), or <0. */
typedef int (*pl_sink_fn)(void *ctx, pl_frame *f);
/* Asks the source to end soon (its next read returns GC_EOF). */
typedef void (*pl_stop_fn)(void *ctx);

/* Runs until the source ends, the sink asks to stop, or an error; returns 0 or the first
 * error. stats (may be NULL) gets per-stage timings. */
int pl_run(const struct pl_params *p, pl_source_fn source, void *source_ctx, const struct pl_stage *stages,
           int n_stages, pl_sink_fn sink, void *sink_ctx, pl_stop_fn stop, void *stop_ctx, struct pl_stats *stats);

/* Writes a readable multi-line summary of stats (ms per frame per stage, fps, latency). */
void pl_stats_format(const struct pl_stats *s, int live, char *buf, size_t n);

/* ---- glowcam's chain: faces, glow (encode, transfer, decode), composite ---- */

struct pl_chain_params {
    const char *model;        /* Glow model file (required) */
    const char *target;       /* target identity file(s), comma-separated: 't' in live cycles them */
    const char *source;       /* source identity file (XFER_SOURCE_FILE), or NULL */
    const char *attribute;    /* attribute vector file (method attribute), or NULL */
    const char *method;       /* "linear" (default), "variance", "attribute" */
    const char *source_mode;  /* "running" (default), "file", "two-pass" */
    const char *level_weights;/* "w0,w1,..." or NULL */
    double alpha;             /* default 0.5 */
    double warmup_s;          /* running mean warm-up, default 3 */
    double smooth;            /* moving average factor 0..0.95 on each track's transferred latent, 0 = off (default) */
    const char *backend;      /* glow backend name, default "auto" */
    int max_batch;            /* faces per glow call, default 8 */
    int max_faces;            /* faces per frame, 1..PL_MAX_FACES, default 1 */
    const char *detail;       /* source detail added back when pasting: "none", "full", "narrow" (default),
                                 or "target": the mean detail of detail_photos instead */
    const char *const *detail_photos; /* "target": photos of the target (images) */
    int n_detail_photos;
    double detail_gain;       /* its gain, default 0.5 (measured in docs/pipeline.md) */
    int detect_interval;      /* tracker: frames between detections, default 8 */
    int threads;              /* glow CPU threads, 0 = all; default 0 */
    int decode_bits;          /* glow decode's bits per channel (glow_params.decode_bits): default 8, the
                                 continuous value to every 8-bit level (less flicker and banding than the
                                 model's n_bits, docs/pipeline.md); 0 = the model's n_bits */
    int still;                /* still images: the detector also tries upsampled and mirrored; default 0 */
};
struct pl_chain_params pl_chain_params_default(void);

typedef struct pl_chain pl_chain;
int pl_chain_create(pl_chain **out, const struct pl_chain_params *p);
void pl_chain_free(pl_chain **c);
/* Fills up to max stages (faces, glow, composite); returns how many. */
int pl_chain_stages(pl_chain *c, struct pl_stage *st, int max);
/* Two-pass mode: a pass that only encodes faces to learn the source mean, then the
 * frozen mean for the second pass. Stages of the first pass: faces, observe. */
int pl_chain_observe_stages(pl_chain *c, struct pl_stage *st, int max);
int pl_chain_end_pass(pl_chain *c);
/* Runs the whole chain on one frame on the calling thread (still images). */
int pl_chain_process(pl_chain *c, pl_frame *f);
/* Live controls, callable from any thread while the pipeline runs. */
void pl_chain_set_alpha(pl_chain *c, double alpha);
double pl_chain_alpha(const pl_chain *c);
void pl_chain_toggle(pl_chain *c);
int pl_chain_enabled(const pl_chain *c);
/* Next target identity; returns its name. */
const char *pl_chain_next_target(pl_chain *c);
const char *pl_chain_target_name(const pl_chain *c);
/* Frames seen with and without a face, faces transferred (encoded, transferred and decoded: a
 * held face that got its track's last transferred face again is not counted). */
void pl_chain_counts(const pl_chain *c, int64_t *frames_with_face, int64_t *frames_without, int64_t *faces);
const char *pl_chain_describe(const pl_chain *c);


/* ---- helpers the commands share ---- */

/* A pl_source_fn over a media_source: frames of the source's size, the input kept
 * when keep_input, at most max_frames (0 = all). */
struct pl_media_reader {
    media_source *src;
    int keep_input;
    int64_t max_frames;
    int64_t frames;
};
int pl_media_read(void *reader, pl_frame **out);
void pl_media_stop(void *reader); /* a pl_stop_fn: media_source_stop on its source */

/* Finds a shipped file (e.g. "glowcam-64.safetensors") in $GLOWCAM_MODELS, then
 * <executable>/../models, <executable>/../share/glowcam/models, then the source tree's
 * models/. Writes the path and returns 0, or -ENOENT (the first candidate is written). */
int pl_find_model_file(const char *name, char *out, size_t n);

#endif
