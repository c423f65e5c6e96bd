/* bits/dim against a brute-force log-determinant: the Jacobian of x -> latent by central
 * finite differences in double, its log|det| by LU, plus the standard-normal density of
 * the latent, must equal the reference's analytic log-likelihood (actnorm, invconv,
 * coupling, yscale and prior terms) to 1e-8 relative.
 *
 *   test_glow_logdet MODEL...   (tiny models: the Jacobian is D x D, D = image_size^2*3) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glow/priv.h"

#define BOUND 1e-8
#define LOG_2PI 1.8378770664093454836

static int check(const char *path)
{
    glow_model *m = NULL;
    if (glow_model_load(&m, path) < 0)
        return 1;
    const struct glow_config *c = glow_model_config(m);
    const size_t D = glow_latent_size(m);
    double *x = malloc(D * sizeof(double)), *eps = malloc(D * sizeof(double)), *ep = malloc(D * sizeof(double));
    double *em = malloc(D * sizeof(double)), *J = malloc(D * D * sizeof(double));
    int fails = 0;
    srand(5);
    for (int trial = 0; trial < 2; trial++) {
        /* trial 0: a quantized image (bin centres); trial 1: any point of the cube */
        for (size_t i = 0; i < D; i++) {
            uint8_t u = (uint8_t)(rand() & 255);
            x[i] = trial == 0 ? glow_preprocess(u, c->n_bits) : (double)rand() / RAND_MAX - 0.5;
        }
        double logdet, logp, ld2, lp2;
        glow_ref_flow_f64(m, x, eps, &logdet, &logp);
        const double h = 1e-5;
        for (size_t j = 0; j < D; j++) {
            const double keep = x[j];
            x[j] = keep + h;
            glow_ref_flow_f64(m, x, ep, &ld2, &lp2);
            x[j] = keep - h;
            glow_ref_flow_f64(m, x, em, &ld2, &lp2);
            x[j] = keep;
            for (size_t i = 0; i < D; i++)
                J[i * D + j] = (ep[i] - em[i]) / (2 * h);
        }
        const double brute_ld = glow_log_abs_det_f64(J, (int)D);
        double normal = 0;
        for (size_t i = 0; i < D; i++)
            normal += -0.5 * (LOG_2PI + eps[i] * eps[i]);
        const double brute = brute_ld + normal, analytic = logdet + logp;
        const double quant = (double)D * c->n_bits * M_LN2;
        const double bpd_b = (-brute + quant) / (D * M_LN2), bpd_a = (-analytic + quant) / (D * M_LN2);
        const double rel = fabs(brute - analytic) / fabs(analytic);
        printf("logdet %s (%s, edge %d, post %d, L%d K%d W%d, %dx%d, D=%zu) %s: log p(x) analytic %.9f brute-force %.9f "
               "(log|det J| %.6f), bpd %.9f vs %.9f, rel %.2e (bound %.0e)\n",
               c->name, glow_coupling_name(c->coupling), c->edge_padding, c->level_post, c->n_levels, c->depth,
               c->width, c->image_size, c->image_size, D, trial ? "random x" : "quantized x", analytic, brute, brute_ld,
               bpd_a, bpd_b, rel, BOUND);
        if (!(rel < BOUND))
            fails++;
    }
    free(x), free(eps), free(ep), free(em), free(J);
    glow_model_free(&m);
    return fails;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_glow_logdet MODEL...\n");
        return 2;
    }
    int fails = 0;
    for (int i = 1; i < argc; i++)
        fails += check(argv[i]);
    printf("%s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
