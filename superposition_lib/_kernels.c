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
