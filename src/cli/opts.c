#include "cli/opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gc.h"

void cli_print_help(FILE *f, const char *cmd, const char *usage, const struct cli_opt *opts)
{
    fprintf(f, "usage: glowcam %s %s\n\noptions:\n", cmd, usage);
    for (const struct cli_opt *o = opts; o->name; o++) {
        char left[64];
        const char *arg = o->type == OPT_FLAG ? "" : o->type == OPT_INT ? " N" : o->type == OPT_FLOAT ? " X" : " VALUE";
        if (o->short_name && strlen(o->name) > 1)
            snprintf(left, sizeof(left), "-%c, --%s%s", o->short_name, o->name, arg);
        else if (strlen(o->name) == 1)
            snprintf(left, sizeof(left), "-%s%s", o->name, arg);
        else
            snprintf(left, sizeof(left), "    --%s%s", o->name, arg);
        fprintf(f, "  %-26s %s", left, o->help);
        switch (o->type) {
        case OPT_INT:
            fprintf(f, " (default %d", o->def.i);
            if (o->min != o->max)
                fprintf(f, ", %g..%g", o->min, o->max);
            fprintf(f, ")");
            break;
        case OPT_FLOAT:
            fprintf(f, " (default %g", o->def.f);
            if (o->min != o->max)
                fprintf(f, ", %g..%g", o->min, o->max);
            fprintf(f, ")");
            break;
        case OPT_STRING:
            if (o->def.s)
                fprintf(f, " (default %s)", o->def.s);
            break;
        case OPT_FLAG:
            break;
        }
        fprintf(f, "\n");
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "this help");
}

static const struct cli_opt *find(const struct cli_opt *opts, const char *name, size_t len, char short_name)
{
    for (const struct cli_opt *o = opts; o->name; o++) {
        if (short_name) {
            if (o->short_name == short_name || (strlen(o->name) == 1 && o->name[0] == short_name))
                return o;
        } else if (strlen(o->name) == len && !strncmp(o->name, name, len)) {
            return o;
        }
    }
    return NULL;
}

static int set_value(const char *cmd, const struct cli_opt *o, void *dst, const char *v)
{
    char *end;
    switch (o->type) {
    case OPT_FLAG:
        *(int *)((char *)dst + o->offset) = 1;
        return 0;
    case OPT_STRING:
        *(const char **)((char *)dst + o->offset) = v;
        return 0;
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || (o->min != o->max && (x < o->min || x > o->max))) {
            gc_log(GC_LOG_ERROR, "%s: --%s takes an integer in %g..%g, got '%s'", cmd, o->name, o->min, o->max, v);
            return -1;
        }
        *(int *)((char *)dst + o->offset) = (int)x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (*v == 0 || *end || x != x || (o->min != o->max && (x < o->min || x > o->max))) {
            gc_log(GC_LOG_ERROR, "%s: --%s takes a number in %g..%g, got '%s'", cmd, o->name, o->min, o->max, v);
            return -1;
        }
        *(double *)((char *)dst + o->offset) = x;
        return 0;
    }
    }
    return -1;
}

int cli_parse(const char *cmd, const char *usage, const struct cli_opt *opts, void *dst, int argc,
              char **argv, char ***pos, int *npos)
{
    for (const struct cli_opt *o = opts; o->name; o++) {
        char *p = (char *)dst + o->offset;
        switch (o->type) {
        case OPT_FLAG: *(int *)p = 0; break;
        case OPT_INT: *(int *)p = o->def.i; break;
        case OPT_FLOAT: *(double *)p = o->def.f; break;
        case OPT_STRING: *(const char **)p = o->def.s; break;
        }
    }
    /* positional arguments are compacted to the front of argv[1..] */
    int np = 0;
    char **positional = argv + 1;
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || !strcmp(a, "-")) {
            positional[np++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_print_help(stdout, cmd, usage, opts);
            return CLI_PARSE_HELP;
        }
        const struct cli_opt *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            o = find(opts, name, eq ? (size_t)(eq - name) : strlen(name), 0);
            if (eq)
                value = eq + 1;
        } else {
            o = a[2] == 0 ? find(opts, NULL, 0, a[1]) : NULL;
            if (!o && a[2] == 0) /* single-letter long names like -o */
                o = find(opts, a + 1, 1, 0);
            if (!o && (a[1] >= '0' && a[1] <= '9')) { /* a negative number is positional */
                positional[np++] = argv[i];
                continue;
            }
        }
        if (!o) {
            gc_log(GC_LOG_ERROR, "%s: unknown option '%s' (see glowcam %s --help)", cmd, a, cmd);
            return CLI_PARSE_USAGE;
        }
        if (o->type != OPT_FLAG && !value) {
            if (i + 1 >= argc) {
                gc_log(GC_LOG_ERROR, "%s: option '%s' needs a value", cmd, a);
                return CLI_PARSE_USAGE;
            }
            value = argv[++i];
        }
        if (set_value(cmd, o, dst, value) < 0)
            return CLI_PARSE_USAGE;
    }
    *pos = positional;
    *npos = np;
    return CLI_PARSE_OK;
}
