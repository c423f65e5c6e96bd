/* The face-chain options convert and live share (chain_cli.h). */
#include "cli/chain_cli.h"

#include <errno.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/face_cli.h"
#include "common/gc.h"

/* --detail-photos PATH (an image, or a folder of them) into cp->detail_photos; in holds the
 * paths until cp has been used. 0, or <0 with a message. */
static int detail_photos(struct cli_face_inputs *in, const char *path, struct pl_chain_params *cp)
{
    memset(in, 0, sizeof(*in));
    if (!path)
        return 0;
    /* checked before the photos are read, so the mistake is named whatever the folder holds */
    if (!cp->detail || strcmp(cp->detail, "target")) {
        gc_log(GC_LOG_ERROR, "%s: detail photos are for --detail target (the detail is '%s')", path,
               cp->detail ? cp->detail : "none");
        return -EINVAL;
    }
    char *arg = (char *)path;
    int r = cli_face_inputs_collect(in, &arg, 1);
    if (r < 0)
        return r;
    if (in->is_video) {
        gc_log(GC_LOG_ERROR, "%s: --detail-photos takes photos (an image or a folder of them), not a video", path);
        cli_face_inputs_free(in);
        return -EINVAL;
    }
    cp->detail_photos = (const char *const *)in->paths;
    cp->n_detail_photos = in->n;
    return 0;
}

void cli_chain_params(struct pl_chain_params *cp, const struct cli_chain_opts *o)
{
    *cp = pl_chain_params_default();
    cp->model = o->model;
    cp->target = o->target;
    cp->source = o->source;
    cp->method = o->method;
    cp->source_mode = o->source ? "file" : "running";
    cp->level_weights = o->level_weights;
    cp->alpha = o->alpha;
    cp->smooth = o->smooth;
    cp->decode_bits = o->decode_bits;
    cp->backend = o->backend;
    cp->max_faces = o->max_faces;
    cp->threads = o->threads;
    cp->detect_interval = o->detect_interval;
    cp->detail = o->detail;
    cp->detail_gain = o->detail_gain;
}

int cli_chain_create(const char *cmd, const struct cli_chain_opts *o, const struct pl_chain_params *params,
                     int need_target, pl_chain **out)
{
    char model[4096], target[4096];
    struct pl_chain_params p = *params, *cp = &p; /* what is found here lives only in this frame */
    *out = NULL;
    cp->model = cli_shipped_file(cmd, cp->model, "glowcam-64.safetensors", "model", "--model M", model, sizeof(model));
    if (!cp->model)
        return -ENOENT;
    if (need_target) {
        cp->target = cli_shipped_file(cmd, cp->target, "default-target.safetensors", "target", "--target ID", target,
                                      sizeof(target));
        if (!cp->target)
            return -ENOENT;
    }
    struct cli_face_inputs photos;
    int r = detail_photos(&photos, o->detail_photos, cp);
    if (r < 0)
        return r;
    r = pl_chain_create(out, cp);
    cli_face_inputs_free(&photos);
    return r;
}
