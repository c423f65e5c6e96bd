/* Helpers shared by the commands that run a Glow model (encode, decode, sample, convert,
 * live, the xfer commands):
 *
 *   struct glow_params p;
 *   if (cli_glow_params(&p, "decode", o.backend) < 0)   // logs "decode: unknown backend ..."
 *       return 2;
 */
#ifndef CLI_COMMON_H
#define CLI_COMMON_H

#include <stddef.h>

#include "glow/glow.h"

/* Default engine parameters with the backend named by `backend` ("auto", "vulkan", "cpu",
 * "reference"; NULL: auto). 0, or -EINVAL after logging the unknown name, prefixed
 * with "cmd: " when cmd is not NULL. */
int cli_glow_params(struct glow_params *p, const char *cmd, const char *backend);

/* The file for an option left out: `given` when set, else the shipped file `name` found by
 * pl_find_model_file ($GLOWCAM_MODELS, beside the executable, the source tree; so the
 * default works from any directory), written into buf. NULL after logging
 * "[cmd: ]no WHAT given and the default PATH is missing (give OPT)". */
const char *cli_shipped_file(const char *cmd, const char *given, const char *name, const char *what,
                             const char *opt, char *buf, size_t n);

#endif
