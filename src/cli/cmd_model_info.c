/* glowcam model-info MODEL: a model file's configuration, shapes and cost. */
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/gc.h"
#include "glow/glow.h"

struct info_opts {
    int tensors;
};

static const struct cli_opt opts[] = {
    {"tensors", 0, "also list every tensor with its shape", offsetof(struct info_opts, tensors), OPT_FLAG, {0}, 0, 0},
    {0}};

int cli_cmd_model_info(int argc, char **argv)
{
    struct info_opts o;
    char **pos;
    int npos;
    int r = cli_parse("model-info", "MODEL [--tensors]", opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos != 1) {
        gc_log(GC_LOG_ERROR, "model-info: needs exactly one MODEL (see glowcam model-info --help)");
        return 2;
    }
    glow_model *m = NULL;
    if (glow_model_load(&m, pos[0]) < 0)
        return 1;
    const struct glow_config *c = glow_model_config(m);
    printf("file:         %s\nsha256:       %s\n", glow_model_path(m), glow_model_sha256(m));
    printf("name:         %s\ndescription:  %s\ntraining:     %s\n", c->name, c->description, c->training);
    printf("image_size:   %d\nn_levels:     %d\ndepth:        %d\nwidth:        %d\n", c->image_size, c->n_levels,
           c->depth, c->width);
    printf("coupling:     %s\nn_bits:       %d\nedge_padding: %s\nlevel_post:   %s\nalignment:    %s\n",
           glow_coupling_name(c->coupling), c->n_bits, c->edge_padding ? "true" : "false",
           c->level_post ? "true" : "false", glow_alignment_name(c->alignment));
    printf("latent:       %zu floats\n", glow_latent_size(m));
    for (int l = 0; l < c->n_levels; l++) {
        size_t n;
        int h, w, ch;
        size_t off = glow_latent_level_offset(m, l, &n, &h, &w, &ch);
        printf("  level %d:    eps %dx%dx%d at offset %zu (%zu floats)\n", l, h, w, ch, off, n);
    }
    printf("cost:         %.3f GMAC per encode (decode the same)\n", glow_model_flops(m) / 1e9);
    if (o.tensors) {
        glow_st *st = NULL;
        if (glow_st_open(&st, pos[0]) == 0) {
            size_t params = 0;
            for (int i = 0; i < glow_st_count(st); i++) {
                int nd;
                int64_t sh[8];
                const char *nm = glow_st_name(st, i);
                glow_st_tensor(st, nm, &nd, sh);
                size_t cnt = 1;
                printf("  %-50s [", nm);
                for (int d = 0; d < nd; d++) {
                    printf("%s%lld", d ? ", " : "", (long long)sh[d]);
                    cnt *= (size_t)sh[d];
                }
                printf("]\n");
                params += cnt;
            }
            printf("tensors:      %d, %zu parameters\n", glow_st_count(st), params);
            glow_st_close(&st);
        }
    }
    glow_model_free(&m);
    return 0;
}
