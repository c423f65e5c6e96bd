// Implicit-GEMM operand loaders of conv2.comp and conv_cm2.comp (KS and EDGE are macros
// from the push constants' flags there). An A loader slot is a fixed pixel of the tile whose
// element offset and 3x3 taps inside the image are computed once; the k loop then walks
// (tap, ci) with k = tap * cin_pad + ci and loads without divisions.

// One A loader slot: a fixed pixel of the tile.
struct a_slot {
    int base;   // element index of the pixel's channel src_off
    uint mask;  // bit t: tap t lies inside the image (0 for pixels past M)
    bool valid; // m < M
};

a_slot slot_of(uint m)
{
    a_slot s;
    s.valid = m < pc.M;
    s.base = int(m * pc.src_stride + pc.src_off);
    s.mask = 0u;
    if (s.valid) {
        uint q = m % (pc.H * pc.W);
        int y = int(q / pc.W), x = int(q % pc.W);
        if (KS == 1u) {
            s.mask = 1u;
        } else {
            [[unroll]] for (uint t = 0u; t < 9u; t++) {
                int yy = y + int(t / 3u) - 1, xx = x + int(t % 3u) - 1;
                if (yy >= 0 && yy < int(pc.H) && xx >= 0 && xx < int(pc.W))
                    s.mask |= 1u << t;
            }
        }
    }
    return s;
}

// A[m][k .. k+3] with k = tap * cin_pad + ci; toff = the tap's offset in elements.
vec4 load_a(a_slot s, uint tap, uint ci, int toff)
{
    if (tap >= KS * KS)
        return vec4(0.0); // past K
    if ((s.mask & (1u << tap)) != 0u) {
        uint b = uint(s.base + toff) + ci;
        if ((pc.flags & GC_CONV_VEC4) != 0u && ci + 4u <= pc.cin)
            return V4BufRO(pc.src).d[b / 4u];
        vec4 v = vec4(0.0);
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            if (ci + e < pc.cin)
                v[e] = pc.src.d[b + e];
        return v;
    }
    vec4 v = vec4(0.0); // outside the image: 0, and 1 in the edge channel
    if (EDGE != 0u && s.valid && pc.cin >= ci && pc.cin < ci + 4u)
        v[pc.cin - ci] = 1.0;
    return v;
}

// B[k][o .. o+3], zeros past K and cout.
vec4 load_b(uint k, uint o, uint K)
{
    if (k >= K)
        return vec4(0.0);
    uint i = k * pc.cout + o;
    if ((pc.flags & GC_CONV_WVEC4) != 0u && o + 4u <= pc.cout)
        return V4BufRO(pc.w).d[i / 4u];
    vec4 v = vec4(0.0);
    [[unroll]] for (uint e = 0u; e < 4u; e++)
        if (o + e < pc.cout)
            v[e] = pc.w.d[i + e];
    return v;
}

int tap_offset(uint tap)
{
    if (KS == 1u)
        return 0;
    return ((int(tap / 3u) - 1) * int(pc.W) + int(tap % 3u) - 1) * int(pc.src_stride);
}
