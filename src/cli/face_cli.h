/* Helpers shared by the face commands (align, faces, bench face); defined in cmd_align.c. */
#ifndef CLI_FACE_CLI_H
#define CLI_FACE_CLI_H

/* A list of input files: the images named, the images inside a directory (sorted by name),
 * or one video. */
struct cli_face_inputs {
    char **paths;
    int n;
    int is_video; /* one path, a video (decoded frame by frame) */
};
/* <0 with a message when a path is missing or a directory holds no image. */
int cli_face_inputs_collect(struct cli_face_inputs *in, char **args, int nargs);
void cli_face_inputs_free(struct cli_face_inputs *in);
/* By extension: a video container glowcam reads frame by frame. */
int cli_face_is_video(const char *path);

#endif
