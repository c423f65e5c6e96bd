/* glow: Glow normalizing-flow models (load, encode, decode) on several engines.
 *
 *   glow_model *m = NULL;
 *   if (glow_model_load(&m, "models/glowcam-64.safetensors") < 0) ...;   // logs why
 *   struct glow_params p = glow_params_default();                         // backend AUTO
 *   glow_engine *e = NULL;
 *   if (glow_engine_create(&e, m, &p) < 0) ...;
 *   float *z = malloc(glow_latent_size(m) * sizeof(float));
 *   double bpd;
 *   glow_encode(e, rgb, 1, z, &bpd);      // rgb: image_size^2*3 bytes, HWC, R first
 *   glow_decode(e, z, 1, rgb);
 *   glow_engine_free(&e);                 // before the model it was made from
 *   glow_model_free(&m);
 *
 * Ownership: the model owns its tensors (the file is read into one buffer);
 * an engine borrows the model, which must outlive it. Engines are not
 * thread-safe: one thread at a time per engine.
 *
 * The latent (DESIGN.md): image_size^2*3 floats, the eps of every level,
 * level 0 first, each in HWC order.
 */
#ifndef GLOW_H
#define GLOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum glow_coupling { GLOW_COUPLING_AFFINE, GLOW_COUPLING_ADDITIVE };
enum glow_alignment { GLOW_ALIGN_OPENAI_EYES, GLOW_ALIGN_FFHQ_QUAD };

#define GLOW_MAX_LEVELS 8

struct glow_config {
    int image_size;   /* square side in pixels, even and divisible by 2^n_levels */
    int n_levels;     /* L, 1..GLOW_MAX_LEVELS */
    int depth;        /* K steps per level */
    int width;        /* hidden channels of the coupling network */
    enum glow_coupling coupling;
    int n_bits;       /* 1..8 bits per colour channel the model sees */
    int edge_padding; /* 3x3 convs take an extra channel that is 1 outside the image */
    enum glow_alignment alignment;
    int level_post;   /* each level ends with actnorm + invconv before the split */
    char name[128];
    char description[512];
    char training[512];
};

typedef struct glow_model glow_model;

/* Reads and validates a model file; on error logs a message naming the file and
 * the field or tensor, and returns a negative code. *out is NULL on failure. */
int glow_model_load(glow_model **out, const char *path);
/* Same, from a buffer (copied); name is used in messages. */
int glow_model_load_memory(glow_model **out, const void *data, size_t size, const char *name);
void glow_model_free(glow_model **m);

const struct glow_config *glow_model_config(const glow_model *m);
const char *glow_model_path(const glow_model *m);
/* SHA-256 of the model file's bytes, 64 lowercase hex digits. */
const char *glow_model_sha256(const glow_model *m);
/* Number of floats in one latent: image_size^2 * 3. */
size_t glow_latent_size(const glow_model *m);
/* Where level l's eps starts in the latent and how many floats it has
 * (its H, W, C are given too when the pointers are not NULL). */
size_t glow_latent_level_offset(const glow_model *m, int level, size_t *count, int *h, int *w, int *c);
/* Multiply-adds of one encode (decode is the same), for GFLOP/s figures. */
double glow_model_flops(const glow_model *m);
const char *glow_alignment_name(enum glow_alignment a);
const char *glow_coupling_name(enum glow_coupling c);

enum glow_backend {
    GLOW_BACKEND_AUTO,      /* Vulkan on a real GPU, else the OpenBLAS backend */
    GLOW_BACKEND_VULKAN,    /* any Vulkan device, lavapipe included */
    GLOW_BACKEND_CPU,       /* OpenBLAS */
    GLOW_BACKEND_REFERENCE, /* plain C, slow, the truth the others are tested against */
};
const char *glow_backend_name(enum glow_backend b);
/* Parses "auto", "vulkan", "cpu", "reference"; -EINVAL otherwise. */
int glow_backend_parse(const char *s, enum glow_backend *out);

struct glow_params {
    enum glow_backend backend; /* default AUTO */
    int device;                /* Vulkan device index, -1 = best (or $GLOWCAM_DEVICE); default -1 */
    int max_batch;             /* faces per encode/decode call, 1..1024; default 8 */
    int fp16;                  /* Vulkan: allow fp16 storage/arithmetic where offered; default 0 */
    int threads;               /* CPU backend threads, 0 = all cores; default 0 */
    int decode_bits;           /* bits per channel decode writes: 0 = the model's n_bits (DESIGN.md's
                                  postprocess, default); 1..8 = the same postprocess with these bits,
                                  e.g. 8: u8 = clip(floor((x + 0.5) * 256), 0, 255) from the continuous
                                  value (no n_bits banding; a crop no longer round-trips exactly);
                                  every backend */
};
struct glow_params glow_params_default(void);

typedef struct glow_engine glow_engine;

int glow_engine_create(glow_engine **out, const glow_model *m, const struct glow_params *p);
void glow_engine_free(glow_engine **e);
/* The backend actually chosen, and a line saying which device and why. */
enum glow_backend glow_engine_backend(const glow_engine *e);
const char *glow_engine_describe(const glow_engine *e);
/* Bits per channel glow_decode writes (the model's n_bits unless decode_bits took effect). */
int glow_engine_decode_bits(const glow_engine *e);

/* images: n * image_size^2 * 3 uint8 RGB (HWC); latents: n * latent_size floats;
 * bpd: n negative log-likelihoods in bits per dimension, or NULL.
 * n may exceed max_batch (the engine splits it). */
int glow_encode(glow_engine *e, const uint8_t *images, int n, float *latents, double *bpd);
int glow_decode(glow_engine *e, const float *latents, int n, uint8_t *images);

/* Lists Vulkan devices and which backend AUTO would pick (for `glowcam devices`),
 * writing human-readable lines to f. */
int glow_devices_print(FILE *f);

/* Generic safetensors files (F32 tensors, string metadata), read fully and validated:
 * lengths, offsets and shapes are checked, the JSON is parsed by cJSON.
 *
 *   glow_st *st; if (glow_st_open(&st, "id.safetensors") < 0) ...;   // logs why
 *   int nd; int64_t sh[8]; const float *mean = glow_st_tensor(st, "mean", &nd, sh);
 *   glow_st_close(&st);
 */
typedef struct glow_st glow_st;
int glow_st_open(glow_st **out, const char *path);          /* <0 + logged error naming the file */
/* Same from a buffer (copied); name is used in messages. */
int glow_st_open_memory(glow_st **out, const void *data, size_t size, const char *name);
void glow_st_close(glow_st **st);                           /* NULL-safe, sets *st = NULL */
const char *glow_st_meta(const glow_st *st, const char *key); /* __metadata__ string or NULL */
/* float32 tensor by name; NULL if missing (no log). shape filled, ndim <= 8. Data is 4-byte
 * aligned and lives as long as st. (Files with other dtypes are rejected at open.) */
const float *glow_st_tensor(const glow_st *st, const char *name, int *ndim, int64_t shape[8]);
int glow_st_count(const glow_st *st);                        /* number of tensors */
const char *glow_st_name(const glow_st *st, int i);          /* i-th tensor's name (sorted), or NULL */
int glow_st_index(const glow_st *st, const char *name);      /* i of a tensor's name, or -1 */
const char *glow_st_path(const glow_st *st);
const char *glow_st_sha256(const glow_st *st);               /* of the file's bytes, 64 hex digits */
size_t glow_st_file_size(const glow_st *st);
struct glow_st_entry {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[8];
};
/* Writes path.tmp then renames: never a half file under path. meta: key,value,...,NULL (or NULL). */
int glow_st_write(const char *path, const struct glow_st_entry *t, int n, const char *const *meta);

/* SHA-256 of a buffer as 64 lowercase hex digits. */
void glow_sha256_hex(const void *data, size_t n, char out[65]);

/* `glowcam bench glow` (and the standalone glow-bench): argv[0] is the command's name;
 * returns 0, 1 runtime error, 2 usage error. */
int glow_bench_main(int argc, char **argv);

#endif
