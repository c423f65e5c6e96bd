#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/gc.h"

/* Weak so the command builds while some modules are still missing; a command whose
 * module is not built says so instead of pretending to run. */
#pragma weak cli_cmd_encode
#pragma weak cli_cmd_decode
#pragma weak cli_cmd_model_info
#pragma weak cli_cmd_devices
#pragma weak cli_cmd_bench
#pragma weak cli_cmd_faces
#pragma weak cli_cmd_align
#pragma weak cli_cmd_identity
#pragma weak cli_cmd_attribute
#pragma weak cli_cmd_edit
#pragma weak cli_cmd_convert
#pragma weak cli_cmd_sweep
#pragma weak cli_cmd_eval
#pragma weak cli_cmd_live
#pragma weak cli_cmd_sample

static const struct cli_command commands[] = {
    {"convert", "transfer expressions in a video or image onto a target identity", cli_cmd_convert},
    {"live", "live filter: webcam or stream to preview window, virtual camera or y4m", cli_cmd_live},
    {"identity", "build, inspect or show identities (mean latents)", cli_cmd_identity},
    {"sweep", "one image over a range of alphas, as a contact sheet", cli_cmd_sweep},
    {"edit", "edit one photo along an attribute vector", cli_cmd_edit},
    {"attribute", "build attribute vectors from two folders of faces", cli_cmd_attribute},
    {"eval", "expression fidelity and stability of a converted video", cli_cmd_eval},
    {"faces", "detect faces and landmarks in an image or video (JSON lines)", cli_cmd_faces},
    {"align", "write aligned face crops (for training and identities)", cli_cmd_align},
    {"encode", "encode an image to a latent (.npy) and print bits/dim", cli_cmd_encode},
    {"decode", "decode a latent (.npy) to an image", cli_cmd_decode},
    {"model-info", "print a model file's configuration", cli_cmd_model_info},
    {"devices", "list Vulkan devices and the backend glowcam would use", cli_cmd_devices},
    {"bench", "benchmarks: bench glow | bench face", cli_cmd_bench},
    {"sample", "draw random faces from a model into a grid image", cli_cmd_sample},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: glowcam COMMAND [options]   (glowcam COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-11s %s%s\n", commands[i].name, commands[i].summary,
                commands[i].run ? "" : " (not built)");
    fprintf(f, "\nexit codes: 0 success, 1 runtime error, 2 usage error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        if (!commands[i].run) {
            gc_log(GC_LOG_ERROR, "command '%s' is not part of this build", argv[1]);
            return 1;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    gc_log(GC_LOG_ERROR, "unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
