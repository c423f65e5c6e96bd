/* cli: the glowcam command. Each subcommand lives in its own cmd_*.c file and is
 * listed in main.c's table. Commands return 0 success, 1 runtime error, 2 usage. */
#ifndef CLI_H
#define CLI_H

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
};

/* Subcommands (declared weak in main.c while modules land). */
int cli_cmd_encode(int argc, char **argv);
int cli_cmd_decode(int argc, char **argv);
int cli_cmd_model_info(int argc, char **argv);
int cli_cmd_devices(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_faces(int argc, char **argv);
int cli_cmd_align(int argc, char **argv);
int cli_cmd_identity(int argc, char **argv);
int cli_cmd_attribute(int argc, char **argv);
int cli_cmd_edit(int argc, char **argv);
int cli_cmd_convert(int argc, char **argv);
int cli_cmd_sweep(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_live(int argc, char **argv);
int cli_cmd_sample(int argc, char **argv);

#endif
