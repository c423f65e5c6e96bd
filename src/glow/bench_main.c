/* glow-bench: `glowcam bench glow` built from the glow module alone (GPU machines). */
#include "glow/glow.h"

int main(int argc, char **argv) { return glow_bench_main(argc, argv); }
