/* Helpers shared by the commands that run a Glow model. */
#include "cli/cli_common.h"

#include "common/gc.h"

int cli_glow_params(struct glow_params *p, const char *cmd, const char *backend)
{
    *p = glow_params_default();
    if (backend && glow_backend_parse(backend, &p->backend) < 0) {
        gc_log(GC_LOG_ERROR, "%s%sunknown backend '%s' (auto, vulkan, cpu, reference)", cmd ? cmd : "",
               cmd ? ": " : "", backend);
        return -EINVAL;
    }
    return 0;
}
