// Implicit-GEMM operand loader shared by conv.comp and conv_cm.comp.
// A[m][k] of a 1x1 or 3x3 'SAME' convolution: m = pixel (n, y, x) of the batch,
// k = tap * cin_pad + ci with cin_pad = round_up(cin + EDGE, 4) (vk_ops.c pads the
// weights the same way), so a group of 4 consecutive k never straddles two taps.
// Outside the image the input is 0, except channel cin, which is 1 with EDGE
// (OpenAI's add_edge_padding).

struct gc_pixel {
    int y, x;   // position in the image
    uint img;   // first pixel of its image (n * H * W)
    bool valid; // m < M
};

gc_pixel gc_pixel_of(uint m)
{
    gc_pixel p;
    p.valid = m < pc.M;
    uint hw = pc.H * pc.W, q = m % hw;
    p.img = m - q;
    p.y = int(q / pc.W);
    p.x = int(q % pc.W);
    return p;
}

// A[m][kk .. kk+3] for a pixel; kk is a multiple of 4.
vec4 gc_load_a4(gc_pixel p, uint kk)
{
    uint K = KS * KS * pc.cin_pad;
    if (!p.valid || kk >= K)
        return vec4(0.0);
    uint tap = KS == 1u ? 0u : kk / pc.cin_pad;
    uint ci = kk - tap * pc.cin_pad;
    int yy = p.y, xx = p.x;
    if (KS == 3u) {
        yy += int(tap / 3u) - 1;
        xx += int(tap % 3u) - 1;
    }
    if (yy < 0 || yy >= int(pc.H) || xx < 0 || xx >= int(pc.W)) {
        vec4 v = vec4(0.0);
        if (EDGE != 0u && pc.cin >= ci && pc.cin < ci + 4u)
            v[pc.cin - ci] = 1.0;
        return v;
    }
    uint base = (p.img + uint(yy) * pc.W + uint(xx)) * pc.src_stride + pc.src_off + ci;
    if ((pc.flags & GC_CONV_VEC4) != 0u && ci + 4u <= pc.cin)
        return V4BufRO(pc.src).d[base / 4u];
    vec4 v = vec4(0.0);
    for (uint e = 0u; e < 4u; e++)
        if (ci + e < pc.cin)
            v[e] = pc.src.d[base + e];
    return v;
}

// The conv epilogue: (acc + bias) * scale, then ReLU, as flags say.
float gc_epilogue(float v, uint o)
{
    if ((pc.flags & GC_CONV_BIAS) != 0u)
        v += pc.bias.d[o];
    if ((pc.flags & GC_CONV_SCALE) != 0u)
        v *= pc.scale.d[o];
    if ((pc.flags & GC_CONV_RELU) != 0u)
        v = max(v, 0.0);
    return v;
}
