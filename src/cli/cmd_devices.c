/* glowcam devices: the Vulkan devices, which one the Vulkan backend would use, and
 * which backend `--backend auto` picks and why. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "glow/glow.h"

struct devices_opts {
    int unused;
};

int cli_cmd_devices(int argc, char **argv)
{
    static const struct cli_opt opts[] = {{0}};
    struct devices_opts o;
    char **pos;
    int npos;
    int r = cli_parse("devices", "", opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos) {
        fprintf(stderr, "glowcam devices: takes no arguments (see glowcam devices --help)\n");
        return 2;
    }
    return glow_devices_print(stdout) < 0 ? 1 : 0;
}
