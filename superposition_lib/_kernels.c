/* Counter-based float32 uniforms (see kernels.py for the definition and its numpy reference).
 *
 * Float k of the stream with key `key` comes from the 64-bit word mix(key, k / 2): its high 24
 * bits (bits 40..63) when k is even, bits 8..31 when k is odd, scaled by 2^-24 into [0, 1).
 * fill_uniform writes floats offset .. offset + n - 1.  Plain C99, no Python headers. */

#include <stdint.h>

/* x86 has no vector 64-bit multiply before AVX-512; gcc emulates it, which pays off with AVX2's
 * four lanes (1.7x faster than the baseline build here) but not with SSE's two. A build cached
 * for many machines cannot use -march=native, so on x86-64 glibc gcc and clang compile an AVX2
 * clone next to the baseline and the dynamic loader picks the one the CPU supports. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define DISPATCH __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef DISPATCH
#define DISPATCH
#endif

#define SCALE (1.0f / 16777216.0f) /* 2^-24 */

/* SplitMix64's output function (Steele, Lea & Flood 2014) applied to counter c. */
static inline uint64_t mix(uint64_t key, uint64_t c)
{
    uint64_t z = key + (c + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The 24-bit values fit an int32, whose conversion to float vectorises (uint64's does not). */
static inline float high(uint64_t z) { return (float)(int32_t)(z >> 40) * SCALE; }
static inline float low(uint64_t z) { return (float)(int32_t)((z >> 8) & 0xFFFFFF) * SCALE; }

DISPATCH void fill_uniform(float *out, int64_t n, uint64_t key, int64_t offset)
{
    if (n <= 0)
        return;
    uint64_t c = (uint64_t)offset >> 1;
    if (offset & 1) { /* the stream starts mid-word: its low half */
        *out++ = low(mix(key, c++));
        n--;
    }
    int64_t pairs = n >> 1;
    for (int64_t i = 0; i < pairs; i++) {
        uint64_t z = mix(key, c + (uint64_t)i);
        out[2 * i] = high(z);
        out[2 * i + 1] = low(z);
    }
    if (n & 1) /* ends mid-word: its high half */
        out[n - 1] = high(mix(key, c + (uint64_t)pairs));
}

/* Sparse uniform features from the same stream: for rows row0 .. row0 + rows - 1 of a
 * (models, batch, n) sample (out points at row row0), element k is drawn from stream float
 * offset + row0 * n + k as u and becomes max(0, 1 - u * inv_p[model, feature]): present iff
 * u < p, then Uniform(0, 1]. Row r belongs to model r / batch. */
DISPATCH void fill_sparse_uniform(float *restrict out, int64_t row0, int64_t rows, int64_t batch,
                                  int64_t n, uint64_t key, int64_t offset,
                                  const float *restrict inv_p)
{
    fill_uniform(out, rows * n, key, offset + row0 * n);
    for (int64_t r = row0; r < row0 + rows; r++) {
        float *restrict x = out + (r - row0) * n;
        const float *restrict c = inv_p + (r / batch) * n;
        for (int64_t f = 0; f < n; f++) {
            float v = 1.0f - x[f] * c[f];
            x[f] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* The ReLU output's error signal: g = z - t where z > 0, else 0. Written as a multiplication by
 * the mask so that it vectorises (gcc keeps a select as a branch, which mispredicts on random
 * signs: 10x slower here). */
DISPATCH void relu_error(const float *restrict z, const float *restrict t, float *restrict g,
                         int64_t n)
{
    for (int64_t i = 0; i < n; i++) /* mask times difference; + 0 turns -0 into +0 */
        g[i] = (float)(z[i] > 0.0f) * (z[i] - t[i]) + 0.0f;
}

/* One training step's loss and exact gradients for small tied models (ReLU output, ReLU hidden
 * layer, or linear) on sparse uniform data, with the data drawn inside the kernel: the batch is
 * never written to memory. Model r's sample s, feature f is stream float offset +
 * (r * batch + s) * n + f, exactly as fill_sparse_uniform lays out a (models, batch, n) batch, so
 * both paths see the same data. `kind` is RELU_OUT and/or RELU_HIDDEN (0: the linear model).
 *
 * Per model (W: m x n, b: n), with h = W x (or relu(W x)), z = Wᵀ h + b, out = relu(z) (or z),
 * g_f = [z_f > 0] (z_f - x_f) (or z_f - x_f), and a_k = [h_k > 0] (or 1):
 *   loss     = Σ_s Σ_f imp_f (out_f - x_f)² / (batch n)
 *   ∂b_f     = scale_f Σ_s g_f
 *   ∂W_{k,f} = scale_f Σ_s h_k g_f  +  Σ_s a_k (Σ_f' W_{k,f'} scale_f' g_f') x_f
 * where scale = 2 imp / (batch n). Samples are processed in blocks of SB, transposed so that the
 * loops over samples are innermost; sums over samples use LANES partial sums, which the compiler
 * turns into vector registers without reassociating a single float sum. */
#define SB 128
#define LANES 8
#define SMALL_MAX_N 32
#define SMALL_MAX_M 8
#define RELU_OUT 1
#define RELU_HIDDEN 2

static inline float lane_dot(const float *restrict a, const float *restrict b)
{
    float acc[LANES] = {0};
    for (int s = 0; s < SB; s += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += a[s + j] * b[s + j];
    float t = 0.0f;
    for (int j = 0; j < LANES; j++)
        t += acc[j];
    return t;
}

DISPATCH void small_tied_step(const float *restrict W, const float *restrict b,
                              const float *restrict imp, const float *restrict inv_p,
                              int64_t model0, int64_t model1, int64_t batch, int64_t n,
                              int64_t m, int kind, uint64_t key, int64_t offset,
                              float *restrict grad_W, float *restrict grad_b,
                              float *restrict loss)
{
    float u[SB * SMALL_MAX_N];
    float xt[SMALL_MAX_N][SB], g[SMALL_MAX_N][SB], h[SMALL_MAX_M][SB];
    float zf[SB], d2[SB], gh[SB], ones[SB];
    for (int s = 0; s < SB; s++)
        ones[s] = 1.0f;
    const float norm = 2.0f / (float)(batch * n);
    const int relu = kind & RELU_OUT, hidden_relu = kind & RELU_HIDDEN;
    for (int64_t r = model0; r < model1; r++) {
        const float *Wr = W + r * m * n, *br = b + r * n, *ip = inv_p + r * n, *im = imp + r * n;
        double gW[SMALL_MAX_M * SMALL_MAX_N] = {0}, gV[SMALL_MAX_M * SMALL_MAX_N] = {0};
        double gb[SMALL_MAX_N] = {0}, ls[SMALL_MAX_N] = {0};
        float scale[SMALL_MAX_N];
        for (int64_t f = 0; f < n; f++)
            scale[f] = im[f] * norm;
        for (int64_t s0 = 0; s0 < batch; s0 += SB) {
            int bs = (int)(batch - s0 < SB ? batch - s0 : SB);
            fill_uniform(u, bs * n, key, offset + (r * batch + s0) * n);
            for (int64_t f = 0; f < n; f++) {
                for (int s = 0; s < bs; s++) {
                    float v = 1.0f - u[s * n + f] * ip[f];
                    xt[f][s] = v > 0.0f ? v : 0.0f;
                }
                for (int s = bs; s < SB; s++)
                    xt[f][s] = 0.0f;
            }
            for (int64_t k = 0; k < m; k++) {
                for (int s = 0; s < SB; s++)
                    h[k][s] = 0.0f;
                for (int64_t f = 0; f < n; f++) {
                    float w = Wr[k * n + f];
                    for (int s = 0; s < SB; s++)
                        h[k][s] += w * xt[f][s];
                }
                if (hidden_relu)
                    for (int s = 0; s < SB; s++) /* as a product, to vectorise; + 0 for -0 */
                        h[k][s] = (float)(h[k][s] > 0.0f) * h[k][s] + 0.0f;
            }
            for (int64_t f = 0; f < n; f++) {
                for (int s = 0; s < SB; s++)
                    zf[s] = br[f];
                for (int64_t k = 0; k < m; k++) {
                    float w = Wr[k * n + f];
                    for (int s = 0; s < SB; s++)
                        zf[s] += w * h[k][s];
                }
                for (int s = 0; s < SB; s++) {
                    float z = zf[s], x = xt[f][s];
                    float on = relu ? (float)(z > 0.0f) : 1.0f;
                    float live = (float)(s < bs);
                    float e = on * z - x;             /* out - x */
                    g[f][s] = live * on * (z - x) + 0.0f;
                    d2[s] = live * e * e;
                }
                gb[f] += lane_dot(g[f], ones);
                ls[f] += lane_dot(d2, ones);
                for (int64_t k = 0; k < m; k++)
                    gV[k * n + f] += lane_dot(h[k], g[f]);
            }
            for (int64_t k = 0; k < m; k++) {
                for (int s = 0; s < SB; s++)
                    gh[s] = 0.0f;
                for (int64_t f = 0; f < n; f++) {
                    float w = Wr[k * n + f] * scale[f];
                    for (int s = 0; s < SB; s++)
                        gh[s] += w * g[f][s];
                }
                if (hidden_relu)
                    for (int s = 0; s < SB; s++)
                        gh[s] *= (float)(h[k][s] > 0.0f);
                for (int64_t f = 0; f < n; f++)
                    gW[k * n + f] += lane_dot(gh, xt[f]);
            }
        }
        double total = 0.0;
        for (int64_t f = 0; f < n; f++) {
            grad_b[r * n + f] = (float)(scale[f] * gb[f]);
            total += im[f] * ls[f];
            for (int64_t k = 0; k < m; k++)
                grad_W[(r * m + k) * n + f] = (float)(gW[k * n + f] + scale[f] * gV[k * n + f]);
        }
        loss[r] = (float)(total / (double)(batch * n));
    }
}
