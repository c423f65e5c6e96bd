/* Small dense linear algebra in double: invconv inverses and log-determinants,
 * plus the shared postprocess so every backend quantizes alike. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glow/priv.h"

uint8_t glow_postprocess(float x, int n_bits)
{
    /* DESIGN.md: u8 = clip(floor((x + 0.5) * 2^n_bits) * 2^(8-n_bits), 0, 255) */
    double v = floor(((double)x + 0.5) * (double)(1 << n_bits)) * (double)(1 << (8 - n_bits));
    if (!(v > 0)) /* also NaN */
        return 0;
    return v >= 255 ? 255 : (uint8_t)v;
}

/* LU with partial pivoting of a (c x c, row-major, overwritten); returns log|det|,
 * -INFINITY when singular. perm gets the row order when not NULL. */
static double lu(double *a, int c, int *perm)
{
    double logdet = 0;
    for (int i = 0; i < c; i++)
        if (perm)
            perm[i] = i;
    for (int k = 0; k < c; k++) {
        int p = k;
        for (int i = k + 1; i < c; i++)
            if (fabs(a[(size_t)i * c + k]) > fabs(a[(size_t)p * c + k]))
                p = i;
        double piv = a[(size_t)p * c + k];
        if (piv == 0 || !isfinite(piv))
            return -INFINITY;
        if (p != k) {
            for (int j = 0; j < c; j++) {
                double t = a[(size_t)k * c + j];
                a[(size_t)k * c + j] = a[(size_t)p * c + j];
                a[(size_t)p * c + j] = t;
            }
            if (perm) {
                int t = perm[k];
                perm[k] = perm[p];
                perm[p] = t;
            }
        }
        logdet += log(fabs(piv));
        for (int i = k + 1; i < c; i++) {
            double f = a[(size_t)i * c + k] / piv;
            a[(size_t)i * c + k] = f;
            for (int j = k + 1; j < c; j++)
                a[(size_t)i * c + j] -= f * a[(size_t)k * c + j];
        }
    }
    return logdet;
}

double glow_log_abs_det(const float *w, int c)
{
    double *a = malloc((size_t)c * c * sizeof(double));
    if (!a)
        return NAN;
    for (size_t i = 0; i < (size_t)c * c; i++)
        a[i] = w[i];
    double r = lu(a, c, NULL);
    free(a);
    return r;
}

double glow_log_abs_det_f64(double *a, int c)
{
    return lu(a, c, NULL);
}

int glow_invert_matrix(const float *w, int c, double *inv)
{
    double *a = malloc((size_t)c * c * sizeof(double));
    int *perm = malloc((size_t)c * sizeof(int));
    int ret = -ENOMEM;
    if (!a || !perm)
        goto fail;
    for (size_t i = 0; i < (size_t)c * c; i++)
        a[i] = w[i];
    ret = -EINVAL;
    if (!isfinite(lu(a, c, perm)))
        goto fail;
    /* Solve A x = e_j for each column j: P A = L U. */
    for (int j = 0; j < c; j++) {
        for (int i = 0; i < c; i++) { /* forward: L y = P e_j */
            double s = perm[i] == j ? 1.0 : 0.0;
            for (int k = 0; k < i; k++)
                s -= a[(size_t)i * c + k] * inv[(size_t)k * c + j];
            inv[(size_t)i * c + j] = s;
        }
        for (int i = c - 1; i >= 0; i--) { /* backward: U x = y */
            double s = inv[(size_t)i * c + j];
            for (int k = i + 1; k < c; k++)
                s -= a[(size_t)i * c + k] * inv[(size_t)k * c + j];
            inv[(size_t)i * c + j] = s / a[(size_t)i * c + i];
        }
    }
    ret = 0;
fail:
    free(a);
    free(perm);
    return ret;
}
