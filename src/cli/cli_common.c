/* Helpers shared by the commands that run a Glow model. */
#include "cli/cli_common.h"

#include "common/gc.h"
#include "pipeline/pipeline.h"

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

const char *cli_shipped_file(const char *cmd, const char *given, const char *name, const char *what,
                             const char *opt, char *buf, size_t n)
{
    if (given)
        return given;
    if (pl_find_model_file(name, buf, n) < 0) {
        gc_log(GC_LOG_ERROR, "%s%sno %s given and the default %s is missing (give %s)", cmd ? cmd : "",
               cmd ? ": " : "", what, buf, opt);
        return NULL;
    }
    return buf;
}
