/* One table per command drives parsing, range checks and --help, so help never
 * drifts from behaviour:
 *
 *   struct convert_opts { double alpha; const char *out; int stats; };
 *   static const struct cli_opt opts[] = {
 *       {"alpha", 'a', "expression strength", offsetof(struct convert_opts, alpha), OPT_FLOAT, {.f = 0.5}, 0, 2},
 *       {"o", 'o', "output file", offsetof(struct convert_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
 *       {"stats", 0, "print per-stage timings", offsetof(struct convert_opts, stats), OPT_FLAG, {0}, 0, 0},
 *       {0}};
 *   struct convert_opts o; char **pos; int npos;
 *   int r = cli_parse("convert", "IN -o OUT [options]", opts, &o, argc, argv, &pos, &npos);
 *   if (r != CLI_PARSE_OK) return r == CLI_PARSE_HELP ? 0 : 2;
 *
 * Options are --name VALUE or --name=VALUE (or -x VALUE); "-" alone is positional.
 * pos points into argv (no allocation to free).
 */
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

enum cli_opt_type {
    OPT_FLAG,   /* int, set to 1 when present */
    OPT_INT,    /* int, checked against [min, max] */
    OPT_FLOAT,  /* double, checked against [min, max] */
    OPT_STRING, /* const char *, pointing into argv */
};

struct cli_opt {
    const char *name;
    char short_name; /* 0 for none */
    const char *help;
    size_t offset;
    enum cli_opt_type type;
    union {
        int i;
        double f;
        const char *s;
    } def;
    double min, max; /* OPT_INT and OPT_FLOAT; min == max means unchecked */
};

enum { CLI_PARSE_OK = 0, CLI_PARSE_HELP = 1, CLI_PARSE_USAGE = 2 };

int cli_parse(const char *cmd, const char *usage, const struct cli_opt *opts, void *dst, int argc,
              char **argv, char ***pos, int *npos);
void cli_print_help(FILE *f, const char *cmd, const char *usage, const struct cli_opt *opts);

#endif
