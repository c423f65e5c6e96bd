/* glowcam bench glow | bench face: the benchmarks live with their modules (glow's
 * glow_bench_main, face's cli_bench_face); this only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/gc.h"
#include "glow/glow.h"

int cli_bench_face(int argc, char **argv);
#pragma weak cli_bench_face

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: glowcam bench glow -m MODEL [--batch N] [--backend B] [--iters K] ...\n"
               "       glowcam bench face [options]\n"
               "(glowcam bench glow --help, glowcam bench face --help for their options)\n");
}

int cli_cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "glow"))
        return glow_bench_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "face")) {
        if (!cli_bench_face) {
            gc_log(GC_LOG_ERROR, "bench face is not part of this build");
            return 1;
        }
        return cli_bench_face(argc - 1, argv + 1);
    }
    gc_log(GC_LOG_ERROR, "bench: unknown benchmark '%s' (glow or face)", argv[1]);
    bench_usage(stderr);
    return 2;
}
