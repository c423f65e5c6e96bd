#version 450
// squeeze (DIR 0): small[n][y][x][c*4 + dy*2 + dx] = big[n][2y+dy][2x+dx][c] for the
// first c channels of big (pixel stride big_stride); unsqueeze (DIR 1) writes it back.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint DIR = 0;
layout(push_constant) uniform PC {
    FBuf src;
    FBuf dst;
    uint total;      // N * (h/2) * (w/2) * 4c
    uint h, w;       // big image
    uint c;          // channels moved
    uint big_stride; // floats per big pixel
} pc;

void main()
{
    uint i = gc_flat_index();
    if (i >= pc.total)
        return;
    uint c4 = 4u * pc.c, h2 = pc.h / 2u, w2 = pc.w / 2u;
    uint k = i % c4, pix = i / c4;
    uint x = pix % w2, y = (pix / w2) % h2, n = pix / (w2 * h2);
    uint c = k / 4u, dy = (k / 2u) % 2u, dx = k % 2u;
    uint big = ((n * pc.h + 2u * y + dy) * pc.w + 2u * x + dx) * pc.big_stride + c;
    if (DIR == 0u)
        pc.dst.d[i] = pc.src.d[big];
    else
        pc.dst.d[big] = pc.src.d[i];
}
