#version 450
// preprocess + first squeeze: packed RGB24 images -> level-0 tensor [N][S/2][S/2][12].
// x = floor(u8 / 2^(8-n_bits)) / 2^n_bits - 0.5 + 1/2^(n_bits+1) (glow_preprocess in priv.h),
// out[y][x][c*4 + dy*2 + dx] = in[2y+dy][2x+dx][c].
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform PC {
    UBuf img;   // N*S*S*3 bytes, 4 per word, little-endian
    FBuf dst;
    uint total; // N * (S/2)^2 * 12
    uint size;  // S
    uint n_bits;
} pc;

void main()
{
    uint i = gc_flat_index();
    if (i >= pc.total)
        return;
    uint h2 = pc.size / 2u;
    uint c4 = i % 12u, pix = i / 12u;
    uint x = pix % h2, y = (pix / h2) % h2, n = pix / (h2 * h2);
    uint c = c4 / 4u, dy = (c4 / 2u) % 2u, dx = c4 % 2u;
    uint b = ((n * pc.size + 2u * y + dy) * pc.size + 2u * x + dx) * 3u + c;
    uint v = (pc.img.d[b >> 2] >> ((b & 3u) * 8u)) & 255u;
    float bins = float(1u << pc.n_bits);
    pc.dst.d[i] = float(v >> (8u - pc.n_bits)) / bins - 0.5 + 1.0 / (2.0 * bins);
}
