/* Temporal smoothing of one track's transferred latents: an exponential moving
 * average, so that the encode's frame-to-frame noise on a still face does not
 * make the decoded face flicker (issue 7). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "xfer/xfer.h"

#define XFER_SMOOTH_MAX 0.95

struct xfer_smooth {
    size_t dim;
    double s;   /* weight of the past, 0..XFER_SMOOTH_MAX */
    int primed; /* y holds a latent */
    float *y;   /* the average so far */
};

int xfer_smooth_create(xfer_smooth **out, size_t dim, double s)
{
    *out = NULL;
    if (!dim)
        return -EINVAL;
    xfer_smooth *sm = calloc(1, sizeof(*sm));
    if (!sm)
        return -ENOMEM;
    sm->y = malloc(dim * sizeof(float));
    if (!sm->y) {
        free(sm);
        return -ENOMEM;
    }
    sm->dim = dim;
    /* NaN and negatives mean off; more than the maximum would all but freeze the face */
    sm->s = !(s > 0) ? 0.0 : s > XFER_SMOOTH_MAX ? XFER_SMOOTH_MAX : s;
    *out = sm;
    return 0;
}

void xfer_smooth_free(xfer_smooth **sm)
{
    if (!sm || !*sm)
        return;
    free((*sm)->y);
    free(*sm);
    *sm = NULL;
}

void xfer_smooth_reset(xfer_smooth *sm)
{
    sm->primed = 0;
}

double xfer_smooth_factor(const xfer_smooth *sm)
{
    return sm->s;
}

void xfer_smooth_apply(xfer_smooth *sm, float *z)
{
    if (sm->s == 0.0) /* off: not even a copy, so the output stays bit-identical */
        return;
    if (!sm->primed) {
        for (size_t i = 0; i < sm->dim; i++)
            sm->y[i] = z[i];
        sm->primed = 1;
        return;
    }
    const double s = sm->s, r = 1.0 - sm->s;
    for (size_t i = 0; i < sm->dim; i++)
        z[i] = sm->y[i] = (float)(s * sm->y[i] + r * z[i]);
}
