/* The face-chain options that convert and live share (model, target, transfer, detail, CPU
 * threads, ...): one struct both commands' option structs embed, one option-table fragment,
 * and the chain made from them, with the shipped defaults found and the detail photos read.
 *
 *   struct live_opts { struct cli_chain_opts chain; int preview; };
 *   static const struct cli_opt opts[] = {
 *       {"target", 't', "...", offsetof(struct live_opts, chain.target), OPT_STRING, {.s = NULL}, 0, 0},
 *       CLI_CHAIN_OPTS(struct live_opts, chain),
 *       {0}};
 *   struct pl_chain_params cp;
 *   cli_chain_params(&cp, &o.chain);
 *   cp.max_batch = 4;                                  // what is the command's own
 *   if (cli_chain_create("live", &o.chain, &cp, 1, &chain) < 0) ...
 *
 * target, alpha, method and source are in the struct but each command lists them itself:
 * their help differs (live cycles several targets, convert has --method attribute).
 */
#ifndef CLI_CHAIN_CLI_H
#define CLI_CHAIN_CLI_H

#include <stddef.h>

#include "cli/opts.h"
#include "pipeline/pipeline.h"

struct cli_chain_opts {
    const char *model, *target, *method, *source, *backend, *level_weights, *detail, *detail_photos;
    double alpha, smooth, detail_gain;
    int threads, max_faces, detect_interval, decode_bits;
};

/* The table entries every chain command has, for the struct at `member` of `type`. */
#define CLI_CHAIN_OPTS(type, member)                                                                               \
    {"smooth", 0, "temporal smoothing: moving average factor 0..0.95 on each face track's transferred latent (0 = off; less flicker on still faces, see docs/pipeline.md)", offsetof(type, member.smooth), OPT_FLOAT, {.f = 0}, 0, 0.95}, \
    {"decode-bits", 0, "bits per channel of the decoded face: 8 (default) = the decoder's continuous output, no banding; the model's n_bits = DESIGN.md's postprocess exactly", offsetof(type, member.decode_bits), OPT_INT, {.i = 8}, 1, 8}, \
    {"level-weights", 0, "per-level alpha weights w0,w1,... (level 0 = finest)", offsetof(type, member.level_weights), OPT_STRING, {.s = NULL}, 0, 0}, \
    {"model", 'm', "Glow model (default: the shipped glowcam-64)", offsetof(type, member.model), OPT_STRING, {.s = NULL}, 0, 0}, \
    {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(type, member.backend), OPT_STRING, {.s = "auto"}, 0, 0}, \
    {"threads", 0, "CPU backend threads (0 = one per core; 1 leaves the other cores to the other stages)", offsetof(type, member.threads), OPT_INT, {.i = 1}, 0, 256}, \
    {"detail", 0, "source detail added back over the pasted face: none, full (all above the model's resolution), narrow (top octave), or target (the mean detail of --detail-photos instead; with --detail-gain 3, docs/pipeline.md)", offsetof(type, member.detail), OPT_STRING, {.s = "narrow"}, 0, 0}, \
    {"detail-photos", 0, "photos of the target (an image or a folder) for --detail target", offsetof(type, member.detail_photos), OPT_STRING, {.s = NULL}, 0, 0}, \
    {"detail-gain", 0, "gain of --detail's band (0.5: more detail, no more of the source's identity; see docs/pipeline.md)", offsetof(type, member.detail_gain), OPT_FLOAT, {.f = 0.5}, 0, 4}, \
    {"max-faces", 0, "faces transferred per frame", offsetof(type, member.max_faces), OPT_INT, {.i = 1}, 1, PL_MAX_FACES}, \
    {"detect-interval", 0, "frames between face detections while tracking", offsetof(type, member.detect_interval), OPT_INT, {.i = 8}, 1, 1000}

/* pl_chain_params_default() with the options' values (model and target as given, NULL for
 * the shipped defaults; source mode "file" with --source, else "running"). */
void cli_chain_params(struct pl_chain_params *cp, const struct cli_chain_opts *o);
/* The chain from params: a missing model (and target, if need_target) is the shipped one, the
 * detail photos are read. 0, or <0 after a message prefixed "cmd: ". */
int cli_chain_create(const char *cmd, const struct cli_chain_opts *o, const struct pl_chain_params *params,
                     int need_target, pl_chain **out);

#endif
