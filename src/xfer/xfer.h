/* xfer: expression transfer in latent space (DESIGN.md, "Expression transfer").
 *
 * A face's expression is its latent's offset from its own identity's mean
 * latent; adding that offset, scaled by alpha, to another identity's mean puts
 * the expression on the other person.
 *
 *   xfer_identity *tgt = NULL;
 *   if (xfer_identity_load(&tgt, "models/default-target.safetensors", model) < 0) ...; // logs why
 *   struct xfer_params p = xfer_params_default();    // linear, alpha 0.5, running source mean
 *   xfer_ctx *x = NULL;
 *   if (xfer_ctx_create(&x, model, &p, tgt, NULL, NULL) < 0) ...;
 *   // XFER_SOURCE_TWO_PASS only: xfer_ctx_observe(x, z) for every face of the input,
 *   // then xfer_ctx_end_pass(x) once, before the first xfer_ctx_apply().
 *   for each face (one ctx per tracked face):
 *       glow_encode(e, face_rgb, 1, z, NULL);
 *       xfer_ctx_apply(x, z, z_out, t);      // t: seconds since this face's track began
 *       glow_decode(e, z_out, 1, face_rgb);
 *   xfer_ctx_free(&x);                       // before the identities it borrows
 *   xfer_identity_free(&tgt);
 *
 * Ownership: identities and attributes own their arrays; a ctx borrows the
 * model, identities and attribute given to xfer_ctx_create(), which must
 * outlive it. A ctx is not thread-safe (one thread at a time); identities are
 * read-only once loaded and may be shared by any number of ctxs and threads.
 *
 * Latents are float32 vectors of glow_latent_size(model) values (DESIGN.md,
 * "The latent"); all statistics are accumulated in double precision.
 */
#ifndef XFER_H
#define XFER_H

#include <stddef.h>
#include <stdint.h>

#include "glow/glow.h"

/* ---- identities: mean and per-dimension variance of one person's latents ---- */

/* Identity file (DESIGN.md): safetensors with tensors `mean`, `var` [dim] and
 * metadata glowcam.format "1", kind "identity", name, count, model_sha256. */
typedef struct xfer_identity {
    char name[128];
    int64_t count;          /* faces averaged */
    char model_sha256[65];  /* SHA-256 of the model file it was made with */
    char path[512];         /* file it was loaded from or saved to ("" if neither), for messages */
    size_t dim;             /* latent length */
    float *mean, *var;      /* dim floats each, owned; var is the population variance (sum / n) */
} xfer_identity;

/* Zeroed identity of dim values (mean 0, var 0, count 0). */
int xfer_identity_alloc(xfer_identity **out, size_t dim);
void xfer_identity_free(xfer_identity **id); /* NULL-safe, sets *id = NULL */

/* Reads and validates an identity file. With m != NULL it must have been made
 * with that model (same SHA-256 and latent length), else -EINVAL and an error
 * naming both the identity file and the model file. m == NULL: no model check. */
int xfer_identity_load(xfer_identity **out, const char *path, const glow_model *m);
/* The model check alone (for identities built in memory or loaded earlier). */
int xfer_identity_check(const xfer_identity *id, const glow_model *m);
/* Writes path via a temporary name (never a half file under path); sets id->path. */
int xfer_identity_save(xfer_identity *id, const char *path);

typedef struct xfer_stats xfer_stats; /* running statistics, below */

/* ---- attribute vectors (api.md): tensor `vector` [dim] = mean(z_pos) - mean(z_neg) ---- */

typedef struct xfer_attribute {
    char name[128];
    int64_t count_pos, count_neg;
    char model_sha256[65];  /* "" for imported OpenAI vectors: then only the length is checked */
    char source[256];       /* free text, e.g. "z_manipulate.npy row 31, Smiling" */
    char path[512];
    size_t dim;
    float *vector;          /* owned */
} xfer_attribute;

int xfer_attribute_alloc(xfer_attribute **out, size_t dim);
void xfer_attribute_free(xfer_attribute **a);
/* As xfer_identity_load: with m != NULL, a differing model_sha256 (when not "")
 * or latent length is an error naming both files. */
int xfer_attribute_load(xfer_attribute **out, const char *path, const glow_model *m);
int xfer_attribute_save(xfer_attribute *a, const char *path);
/* vector = mean(pos) - mean(neg) (double arithmetic); counts and model_sha256 (may be NULL) set. */
int xfer_attribute_from_stats(const xfer_stats *pos, const xfer_stats *neg, const char *name,
                              const char *model_sha256, xfer_attribute **out);

/* ---- running statistics (Welford, double accumulators) ---- */

int xfer_stats_create(xfer_stats **out, size_t dim);
void xfer_stats_free(xfer_stats **s);
void xfer_stats_reset(xfer_stats *s);
void xfer_stats_add(xfer_stats *s, const float *z);  /* one latent of dim values */
int64_t xfer_stats_count(const xfer_stats *s);
size_t xfer_stats_dim(const xfer_stats *s);
/* Mean (0 when empty) and population variance M2 / n (0 when n <= 1), as float. */
void xfer_stats_mean(const xfer_stats *s, float *mean);
void xfer_stats_var(const xfer_stats *s, float *var);
/* A new identity from the statistics; model_sha256 may be NULL (""). -EINVAL when empty. */
int xfer_stats_to_identity(const xfer_stats *s, const char *name, const char *model_sha256, xfer_identity **out);

/* ---- the formulas, on one range of a latent (exactly DESIGN.md's; double arithmetic) ----
 * linear:    out = m_T + alpha * (s - m_S)
 * variance:  out = m_T + alpha * (s - m_S) * sqrt(v_T + e) / sqrt(v_S + e)
 * attribute: out = s + alpha * v
 * out may alias s. With m_T == m_S (and v_T == v_S) and alpha == 1, out == s
 * bit for bit; with alpha == 0, out == m_T bit for bit. */
void xfer_linear(const float *s, const float *m_S, const float *m_T, size_t n, double alpha, float *out);
void xfer_variance(const float *s, const float *m_S, const float *v_S, const float *m_T, const float *v_T,
                   size_t n, double alpha, double e, float *out);
void xfer_attribute_add(const float *s, const float *v, size_t n, double alpha, float *out);

/* ---- parameters and the per-face transfer context ---- */

enum xfer_method {
    XFER_METHOD_LINEAR,    /* the thesis' best method */
    XFER_METHOD_VARIANCE,  /* offset rescaled by the identities' spreads */
    XFER_METHOD_ATTRIBUTE, /* s + alpha * attribute vector (no identities needed) */
};
enum xfer_source {
    XFER_SOURCE_RUNNING,  /* running mean of the faces seen so far (live default) */
    XFER_SOURCE_FILE,     /* a source identity file (--source ID) */
    XFER_SOURCE_TWO_PASS, /* mean of a first pass over the whole input (offline) */
};

#define XFER_MAX_LEVELS GLOW_MAX_LEVELS

struct xfer_params {
    enum xfer_method method; /* default LINEAR */
    double alpha;            /* strength, default 0.5, sensible 0..1.5 (0.3-0.9 for linear) */
    double var_eps;          /* e of the variance method, default 0.01 (latents have unit scale) */
    int n_level_weights;     /* 0 (default): every level weight 1; else the model's n_levels */
    double level_weights[XFER_MAX_LEVELS]; /* alpha on level l's eps is alpha * level_weights[l] */
    enum xfer_source source; /* default RUNNING; ignored by ATTRIBUTE */
    double warmup_s;         /* RUNNING: seconds until full strength (linear ramp), default 3, 0 = none */
    int warmup_min_faces;    /* RUNNING: strength stays 0 until this many faces were seen, default 5 */
};
struct xfer_params xfer_params_default(void);

/* Parsers for the command line: "linear"|"variance"|"attribute", "running"|"file"|"two-pass",
 * and level weights as "w0,w1,...", level 0 first. Level 0's eps is the finest,
 * the last level's the coarsest (with glowcam-64, "1,1,0" keeps decodes stable up
 * to alpha 1.5 where full weights break near 0.75: README). -EINVAL (logged) if bad. */
int xfer_method_parse(const char *s, enum xfer_method *out);
int xfer_source_parse(const char *s, enum xfer_source *out);
int xfer_level_weights_parse(const char *s, struct xfer_params *p);
const char *xfer_method_name(enum xfer_method m);
const char *xfer_source_name(enum xfer_source s);

typedef struct xfer_ctx xfer_ctx;

/* Checks everything against m (latent length, model_sha256: errors name both files):
 * LINEAR/VARIANCE need target; source when p->source == FILE (else it must be NULL);
 * ATTRIBUTE needs attr. n_level_weights must be 0 or the model's n_levels. */
int xfer_ctx_create(xfer_ctx **out, const glow_model *m, const struct xfer_params *p, const xfer_identity *target,
                    const xfer_identity *source, const xfer_attribute *attr);
void xfer_ctx_free(xfer_ctx **x);
/* TWO_PASS first pass: add one face's latent to the source statistics. */
int xfer_ctx_observe(xfer_ctx *x, const float *z);
/* TWO_PASS: freeze the source mean (and variance) from the first pass; -EINVAL if no face was observed. */
int xfer_ctx_end_pass(xfer_ctx *x);
/* Transfers one face: z in, out (may alias z). t: seconds since this face's track began,
 * used by RUNNING only (the running mean first takes z in, then the strength ramps
 * with t over warmup_s). */
int xfer_ctx_apply(xfer_ctx *x, const float *z, float *out, double t);
/* Strength factor the last apply used (0..1; 1 outside RUNNING's warm-up). */
double xfer_ctx_strength(const xfer_ctx *x);
/* Live changes, from the thread that applies: the alpha of the next apply (level weights
 * and warm-up still scale it), and another target identity (checked against the model
 * as at create; borrowed like the first). The running statistics are kept. */
void xfer_ctx_set_alpha(xfer_ctx *x, double alpha);
int xfer_ctx_set_target(xfer_ctx *x, const xfer_identity *target);
/* RUNNING: forget the faces seen (a new person, a scene cut). */
void xfer_ctx_reset(xfer_ctx *x);
/* The source mean now in use (NULL before any is known), for diagnostics and eval. */
const float *xfer_ctx_source_mean(const xfer_ctx *x);

/* ---- temporal smoothing of one track's transferred latents (opt-in) ----
 * An exponential moving average y_t = S * y_(t-1) + (1 - S) * x_t (double arithmetic)
 * on the latents xfer_ctx_apply() gives one tracked face, so a still source gives a
 * still output (issue 7: the encode's frame-to-frame noise made the output flicker).
 * The first latent after create or reset passes unchanged; S == 0 never changes a
 * latent (the default output stays bit-identical). One smoother per track: reset it
 * (or make a new one) when the track is new. S is clamped to 0..0.95. */
typedef struct xfer_smooth xfer_smooth;
int xfer_smooth_create(xfer_smooth **out, size_t dim, double s);
void xfer_smooth_free(xfer_smooth **sm); /* NULL-safe, sets *sm = NULL */
void xfer_smooth_reset(xfer_smooth *sm); /* the next latent starts the average again */
void xfer_smooth_apply(xfer_smooth *sm, float *z); /* in place: z becomes the average so far */
double xfer_smooth_factor(const xfer_smooth *sm);

#endif
