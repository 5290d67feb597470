/* Counter-based float32 uniforms (see kernels.py for the definition and its numpy reference).
 *
 * Float k of the stream with key `key` comes from the 64-bit word mix(key, k / 2): its high 24
 * bits (bits 40..63) when k is even, bits 8..31 when k is odd, scaled by 2^-24 into [0, 1).
 * fill_uniform writes floats offset .. offset + n - 1.  Plain C99, no Python headers. */

#include <stdint.h>

/* x86 has no vector 64-bit multiply before AVX-512; gcc emulates it, which pays off with AVX2's
 * four lanes (1.7x faster than the baseline build here) but not with SSE's two. A build cached
 * for many machines cannot use -march=native, so on x86-64 glibc gcc and clang compile AVX-512
 * and AVX2 clones next to the baseline and the dynamic loader picks the widest one the CPU
 * supports. SUPERPOSITION_ISA (set by kernels.py from $SUPERPOSITION_KERNEL_ISA) leaves out
 * clones: 2 (default) all, 1 no AVX-512, 0 the baseline only. Without fused multiply-adds
 * (ISO C contracts none) and with every sum in a fixed order, all clones give the same bits.
 * kernels.py compiles with -fno-trapping-math, which changes no value but lets gcc compute both
 * sides of a ReLU's select: with trapping maths it keeps the select as a branch except where
 * AVX-512's masks hide the exceptions, and the AVX2 clones ran 2-4x slower than they do now. */
#ifndef SUPERPOSITION_ISA
#define SUPERPOSITION_ISA 2
#endif
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones) && SUPERPOSITION_ISA == 2
#define DISPATCH __attribute__((target_clones("avx512f", "avx2", "default")))
#elif __has_attribute(target_clones) && SUPERPOSITION_ISA == 1
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

/* The LANES partial sums as one vector (GCC and Clang vector extensions): left to itself, gcc
 * vectorises the loop over them with AVX-512's 16 floats as an in-order reduction, one lane at a
 * time (2.6x slower than the AVX2 clone's step). */
typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
typedef float lanes_unaligned __attribute__((vector_size(LANES * sizeof(float)), aligned(4)));

static inline float lane_dot(const float *restrict a, const float *restrict b)
{
    lanes acc = {0};
    for (int s = 0; s < SB; s += LANES)
        acc += *(const lanes_unaligned *)(a + s) * *(const lanes_unaligned *)(b + s);
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

/* The same step for tied models of any size, exploiting the sparsity of the inputs and of the
 * error signal. Per sample s of model r (stream floats as in small_tied_step):
 *   h  = act(Σ_{f: x_f > 0} x_f Wᵀ_f)                    (only the present features)
 *   z  = b + Wᵀ h, g_f = [z_f > 0] (z_f - x_f)           (dense over f)
 *   gh = a ⊙ Σ_{f: g_f ≠ 0} scale_f g_f Wᵀ_f             (only the active outputs)
 *   Gᵀ_f += scale_f g_f h + x_f gh                       (f present or active)
 * where Wᵀ_f is row f of the transposed weights (m numbers padded with zeros to M, a multiple
 * of the vector width VW, so that every loop over hidden units vectorises without a remainder)
 * and G = ∂W.
 * Samples go S at a time, so that every weight row loaded from memory serves S samples (the
 * weights of n = 400, m = 30 do not fit the first-level cache: one sample at a time, the step
 * waits on the second-level cache), with the S sums in registers. Sums over samples go into
 * float accumulators that are added to double ones every SB samples. Models model0 .. model1 - 1
 * are trained; no result depends on how the models are split between calls. */
#include <stdlib.h>
#include <string.h>
#define S 4

/* The step is written once (_sparse_step.h) and instantiated per instruction set, with the
 * vector width and register blocks that fit its register file: AVX-512 and AVX2 where the
 * compiler targets x86-64 (SUPERPOSITION_ISA leaves them out as it leaves out clones), and the
 * baseline everywhere; sparse_tied_step picks one at run time. As target clones of one body
 * with vectors of 16 floats, the AVX2 step split every vector into two registers, spilled its
 * sums and ran 6.6x slower than the AVX-512 one. */
#if defined(__x86_64__) && defined(__GNUC__)
#define WIDE_STEPS SUPERPOSITION_ISA
#include <immintrin.h>
#else
#define WIDE_STEPS 0
#endif

/* The indices f < n where a[i * n + f] != 0 for some row i < rows, in increasing order, written
 * to idx (room for n + 16); returns their count. The vector versions find 8 or 16 at a time and
 * leave the remainder to the branch-free scalar loop, which appends indices f0 .. n - 1 after
 * the first ``count``. */
static int64_t nonzero_from(const float *a, int64_t rows, int64_t n, int64_t f0, int32_t *idx,
                            int64_t count)
{
    for (int64_t f = f0; f < n; f++) {
        int any = 0;
        for (int64_t i = 0; i < rows; i++)
            any |= a[i * n + f] != 0.0f;
        idx[count] = (int32_t)f;
        count += any;
    }
    return count;
}

static int64_t nonzero_scalar(const float *a, int64_t rows, int64_t n, int32_t *idx)
{
    return nonzero_from(a, rows, n, 0, idx, 0);
}

#if WIDE_STEPS >= 1
/* Byte j of compact_lanes[mask] is the position of mask's j-th set bit (of 8): AVX2 has no
 * compress, so nonzero_avx2 looks the compacted lanes up. Filled when the library loads. */
static uint64_t compact_lanes[256];

__attribute__((constructor)) static void fill_compact_lanes(void)
{
    for (int mask = 0; mask < 256; mask++) {
        uint64_t lanes = 0;
        for (int i = 0, j = 0; i < 8; i++)
            if (mask >> i & 1)
                lanes |= (uint64_t)i << (8 * j++);
        compact_lanes[mask] = lanes;
    }
}

__attribute__((target("avx2,popcnt"))) static int64_t nonzero_avx2(const float *a, int64_t rows,
                                                                   int64_t n, int32_t *idx)
{
    int64_t count = 0, f = 0;
    for (; f + 8 <= n; f += 8) {
        __m256 any = _mm256_setzero_ps();
        for (int64_t i = 0; i < rows; i++)
            any = _mm256_or_ps(any, _mm256_cmp_ps(_mm256_loadu_ps(a + i * n + f),
                                                  _mm256_setzero_ps(), _CMP_NEQ_UQ));
        const unsigned k = (unsigned)_mm256_movemask_ps(any);
        const __m256i lanes = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)compact_lanes[k]));
        _mm256_storeu_si256((__m256i *)(idx + count),
                            _mm256_add_epi32(lanes, _mm256_set1_epi32((int)f)));
        count += __builtin_popcount(k);
    }
    return nonzero_from(a, rows, n, f, idx, count);
}
#endif

#if WIDE_STEPS >= 2
/* 16 at a time with a compress into a register (the compress to memory is microcoded on some
 * CPUs). */
__attribute__((target("avx512f,popcnt"))) static int64_t nonzero_avx512(const float *a,
                                                                        int64_t rows, int64_t n,
                                                                        int32_t *idx)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    int64_t count = 0, f = 0;
    for (; f + 16 <= n; f += 16) {
        __mmask16 k = 0;
        for (int64_t i = 0; i < rows; i++)
            k |= _mm512_cmp_ps_mask(_mm512_loadu_ps(a + i * n + f), zero, _CMP_NEQ_UQ);
        _mm512_storeu_si512(idx + count, _mm512_maskz_compress_epi32(k, iota));
        count += __builtin_popcount((unsigned)k);
        iota = _mm512_add_epi32(iota, step);
    }
    return nonzero_from(a, rows, n, f, idx, count);
}
#endif

/* The baseline: SSE2's (or NEON's) 4 floats, 16 registers; update_rows 4 vectors (a 64-byte
 * line) per pass: 10% faster step than 1 vector here (busy 2-core AMD EPYC, one thread). */
#define NAME(f) f##_baseline
#define TARGET
#define VW 4
#define UV 4
#define ZV 2
#define RV 2
#define NONZERO nonzero_scalar
#include "_sparse_step.h"

#if WIDE_STEPS >= 1
/* AVX2: 8 floats, 16 registers: S × 2 sums, 2 weight vectors and a broadcast in decode;
 * update_rows 4 vectors (all of m = 30's row) per pass: the step ran 9-11% faster than with 1
 * vector (the 8 of h and gh in registers) and 7-9% faster than with 2 (busy 2-core AMD EPYC, one
 * thread, alternating builds). */
#define NAME(f) f##_avx2
#define TARGET __attribute__((target("avx2")))
#define VW 8
#define UV 4
#define ZV 2
#define RV 2
#define NONZERO nonzero_avx2
#include "_sparse_step.h"
#endif

#if WIDE_STEPS >= 2
/* AVX-512: 16 floats, 32 registers: S × 4 sums and 4 weight vectors in decode; update_rows 1
 * vector per pass (a 64-byte line, with h and gh in registers): 2 was no faster. */
#define NAME(f) f##_avx512
#define TARGET __attribute__((target("avx512f")))
#define VW 16
#define UV 1
#define ZV 4
#define RV 2
#define NONZERO nonzero_avx512
#include "_sparse_step.h"
#endif

/* The instantiation sparse_tied_step runs on this CPU: 2 AVX-512, 1 AVX2, 0 the baseline. */
int sparse_step_isa(void)
{
#if WIDE_STEPS >= 1
    __builtin_cpu_init();
#if WIDE_STEPS >= 2
    if (__builtin_cpu_supports("avx512f"))
        return 2;
#endif
    if (__builtin_cpu_supports("avx2"))
        return 1;
#endif
    return 0;
}

void sparse_tied_step(const float *restrict W, const float *restrict b,
                      const float *restrict imp, const float *restrict inv_p, int64_t model0,
                      int64_t model1, int64_t batch, int64_t n, int64_t m, int kind,
                      uint64_t key, int64_t offset, float *restrict grad_W,
                      float *restrict grad_b, float *restrict loss)
{
#define STEP_ARGS W, b, imp, inv_p, model0, model1, batch, n, m, kind, key, offset, \
                  grad_W, grad_b, loss
    switch (sparse_step_isa()) {
#if WIDE_STEPS >= 2
    case 2:
        sparse_tied_step_avx512(STEP_ARGS);
        return;
#endif
#if WIDE_STEPS >= 1
    case 1:
        sparse_tied_step_avx2(STEP_ARGS);
        return;
#endif
    default:
        sparse_tied_step_baseline(STEP_ARGS);
    }
#undef STEP_ARGS
}
