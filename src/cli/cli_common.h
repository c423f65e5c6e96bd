/* Helpers shared by the commands that run a Glow model (encode, decode, sample, the
 * xfer commands):
 *
 *   struct glow_params p;
 *   if (cli_glow_params(&p, "decode", o.backend) < 0)   // logs "decode: unknown backend ..."
 *       return 2;
 */
#ifndef CLI_COMMON_H
#define CLI_COMMON_H

#include "glow/glow.h"

/* Default engine parameters with the backend named by `backend` ("auto", "vulkan", "cpu",
 * "reference"; NULL: auto). 0, or -EINVAL after logging the unknown name, prefixed
 * with "cmd: " when cmd is not NULL. */
int cli_glow_params(struct glow_params *p, const char *cmd, const char *backend);

#endif
