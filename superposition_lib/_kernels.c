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
 * (ISO C contracts none) and with every sum in a fixed order, all clones give the same bits. */
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

/* The same step for tied models of any size, exploiting the sparsity of the inputs and of the
 * error signal. Per sample s of model r (stream floats as in small_tied_step):
 *   h  = act(Σ_{f: x_f > 0} x_f Wᵀ_f)                    (only the present features)
 *   z  = b + Wᵀ h, g_f = [z_f > 0] (z_f - x_f)           (dense over f)
 *   gh = a ⊙ Σ_{f: g_f ≠ 0} scale_f g_f Wᵀ_f             (only the active outputs)
 *   Gᵀ_f += scale_f g_f h + x_f gh                       (f present or active)
 * where Wᵀ_f is row f of the transposed weights (m numbers padded with zeros to M, a multiple
 * of VW, so that every loop over hidden units vectorises without a remainder) and G = ∂W.
 * Samples go S at a time, so that every weight row loaded from memory serves S samples (the
 * weights of n = 400, m = 30 do not fit the first-level cache: one sample at a time, the step
 * waits on the second-level cache), with the S sums in registers. Sums over samples go into
 * float accumulators that are added to double ones every SB samples. Models model0,
 * model0 + stride, ... below model1 are trained; no result depends on that split. */
#include <stdlib.h>
#include <string.h>
#define VW 16
#define S 4

/* The indices f < n where a[i * n + f] != 0 for some row i < rows, in increasing order, written
 * to idx (room for n + 16); returns their count. With AVX-512 (checked at run time) 16 at a
 * time with a compress into a register (the compress to memory is microcoded on some CPUs);
 * else a branch-free scalar loop. */
/* The branch-free scalar part: indices f0 .. n - 1, appended after ``count`` of them. */
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

#if defined(__x86_64__) && defined(__GNUC__) && SUPERPOSITION_ISA == 2
#include <immintrin.h>
__attribute__((target("avx512f"))) static int64_t nonzero_avx512(const float *a, int64_t rows,
                                                                 int64_t n, int32_t *idx)
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

/* Whether sparse_tied_step runs with AVX-512 (its clone and nonzero's compress): without it
 * the step is several times slower (its vectors of 16 floats are split, its index lists built
 * one by one), and the trainer uses batched matrix products instead. */
int sparse_step_wide(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && SUPERPOSITION_ISA == 2
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

static int64_t nonzero(const float *a, int64_t rows, int64_t n, int32_t *idx)
{
#if defined(__x86_64__) && defined(__GNUC__) && SUPERPOSITION_ISA == 2
    if (sparse_step_wide())
        return nonzero_avx512(a, rows, n, idx);
#endif
    return nonzero_from(a, rows, n, 0, idx, 0);
}

/* A vector of VW floats (GCC and Clang vector extensions: one AVX-512 register, or two AVX2 or
 * four SSE registers on CPUs without AVX-512), loaded from and stored to unaligned memory. */
typedef float vec __attribute__((vector_size(VW * sizeof(float))));
/* Helpers are inlined into each clone of their caller, so they use its vector extensions. */
#define INLINE static inline __attribute__((always_inline))
typedef float vec_unaligned __attribute__((vector_size(VW * sizeof(float)), aligned(4)));
INLINE vec load(const float *p) { return *(const vec_unaligned *)p; }
INLINE void store(float *p, vec v) { *(vec_unaligned *)p = v; }

/* out_s = Σ_j c_s[idx_j] rows[idx_j] for the S samples s (c: S rows of n; rows: M floats each;
 * out: S rows of M), VW columns at a time with the S partial sums in registers. */
INLINE void sum_rows(const int32_t *restrict idx, int64_t count, const float *restrict c,
                            int64_t n, const float *restrict rows, int64_t M,
                            float *restrict out)
{
    for (int64_t k0 = 0; k0 < M; k0 += VW) {
        vec a[S] = {{0}};
        for (int64_t j = 0; j < count; j++) {
            const vec w = load(rows + idx[j] * M + k0);
            for (int s = 0; s < S; s++)
                a[s] += c[s * n + idx[j]] * w;
        }
        for (int s = 0; s < S; s++)
            store(out + s * M + k0, a[s]);
    }
}

/* z_s = b + Σ_k h_sk W_k for the S samples (W: m rows of n; h: S rows of M; z: S rows of n),
 * ZB = 4 VW outputs at a time with the S × 4 sums in registers, then the remainder. */
#define ZB (4 * VW)
INLINE void decode(const float *restrict W, const float *restrict b,
                          const float *restrict h, int64_t M, int64_t n, int64_t m,
                          float *restrict z)
{
    int64_t f0 = 0;
    for (; f0 + ZB <= n; f0 += ZB) {
        vec a[S][4];
        for (int i = 0; i < 4; i++) {
            const vec bias = load(b + f0 + i * VW);
            for (int s = 0; s < S; s++)
                a[s][i] = bias;
        }
        for (int64_t k = 0; k < m; k++) {
            vec w[4];
            for (int i = 0; i < 4; i++)
                w[i] = load(W + k * n + f0 + i * VW);
            for (int s = 0; s < S; s++) {
                const float hk = h[s * M + k];
                for (int i = 0; i < 4; i++)
                    a[s][i] += hk * w[i];
            }
        }
        for (int s = 0; s < S; s++)
            for (int i = 0; i < 4; i++)
                store(z + s * n + f0 + i * VW, a[s][i]);
    }
    for (int s = 0; s < S; s++) {
        for (int64_t f = f0; f < n; f++)
            z[s * n + f] = b[f];
        for (int64_t k = 0; k < m; k++)
            for (int64_t f = f0; f < n; f++)
                z[s * n + f] += h[s * M + k] * W[k * n + f];
    }
}

/* G_f += Σ_s (gs_sf h_s + x_sf gh_s) for the listed rows f of G (n rows of M), VW columns at a
 * time with those columns of h and gh (S rows of M each) in registers. */
INLINE void update_rows(const int32_t *restrict idx, int64_t count,
                               const float *restrict gs, const float *restrict x, int64_t n,
                               const float *restrict h, const float *restrict gh, int64_t M,
                               float *restrict G)
{
    for (int64_t k0 = 0; k0 < M; k0 += VW) {
        vec hs[S], ghs[S];
        for (int s = 0; s < S; s++) {
            hs[s] = load(h + s * M + k0);
            ghs[s] = load(gh + s * M + k0);
        }
        for (int64_t j = 0; j < count; j++) {
            float *restrict Gf = G + idx[j] * M + k0;
            vec a = load(Gf);
            for (int s = 0; s < S; s++)
                a += gs[s * n + idx[j]] * hs[s] + x[s * n + idx[j]] * ghs[s];
            store(Gf, a);
        }
    }
}

/* One sample's error terms: g_f = on_f (z_f - x_f) with on_f = [z_f > 0] (or 1 when linear),
 * accumulated into the loss (out_f - x_f)² and the bias gradient, and gs_f = scale_f g_f. */
INLINE void error_terms(const float *restrict z, const float *restrict x,
                               const float *restrict scale, int64_t n, int relu,
                               float *restrict ls, float *restrict gb, float *restrict gs)
{
    for (int64_t f = 0; f < n; f++) {
        float on = relu ? (float)(z[f] > 0.0f) : 1.0f;
        float e = on * z[f] - x[f], g = on * (z[f] - x[f]) + 0.0f;
        ls[f] += e * e;
        gb[f] += g;
        gs[f] = scale[f] * g;
    }
}

DISPATCH void sparse_tied_step(const float *restrict W, const float *restrict b,
                               const float *restrict imp, const float *restrict inv_p,
                               int64_t model0, int64_t model1, int64_t stride, int64_t batch,
                               int64_t n, int64_t m, int kind, uint64_t key, int64_t offset,
                               float *restrict grad_W, float *restrict grad_b,
                               float *restrict loss)
{
    const int64_t M = (m + VW - 1) / VW * VW;
    /* One allocation per type (restrict: the compiler need not check for overlaps). */
    double *restrict Gd = calloc((size_t)(n * M + 2 * n), sizeof(double));
    double *restrict gb = Gd + n * M, *restrict ls = gb + n;
    float *restrict Wt = calloc((size_t)(2 * n * M + (3 * S + 3) * n + 2 * S * M), sizeof(float));
    float *restrict G = Wt + n * M, *restrict x = G + n * M; /* x: S rows, then gs: S rows */
    float *restrict gs = x + S * n, *restrict z = gs + S * n, *restrict scale = z + S * n;
    float *restrict gbf = scale + n, *restrict lsf = gbf + n, *restrict h = lsf + n;
    float *restrict gh = h + S * M;
    int32_t *restrict present = malloc((size_t)(3 * n + 48) * sizeof(int32_t));
    int32_t *restrict active = present + n + 16, *restrict changed = active + n + 16;
    if (!Gd || !Wt || !present) { /* out of memory: NaN gradients stop training with an error */
        for (int64_t r = model0; r < model1; r += stride)
            loss[r] = grad_b[r * n] = 0.0f / 0.0f;
        free(Gd); free(Wt); free(present);
        return;
    }
    const float norm = 2.0f / (float)(batch * n);
    const int relu = kind & RELU_OUT, hidden_relu = kind & RELU_HIDDEN;
    for (int64_t r = model0; r < model1; r += stride) {
        const float *Wr = W + r * m * n, *br = b + r * n, *ip = inv_p + r * n, *im = imp + r * n;
        for (int64_t f = 0; f < n; f++) {
            scale[f] = im[f] * norm;
            for (int64_t k = 0; k < m; k++)
                Wt[f * M + k] = Wr[k * n + f];
        }
        memset(Gd, 0, (size_t)(n * M + 2 * n) * sizeof(double));
        for (int64_t s0 = 0; s0 < batch; s0 += SB) {
            const int64_t s1 = batch - s0 < SB ? batch : s0 + SB;
            memset(G, 0, (size_t)(n * M) * sizeof(float));
            memset(gbf, 0, (size_t)(2 * n) * sizeof(float));
            for (int64_t t = s0; t < s1; t += S) {
                const int live = (int)(s1 - t < S ? s1 - t : S);
                memset(x + live * n, 0, (size_t)((S - live) * n) * sizeof(float));
                fill_uniform(x, live * n, key, offset + (r * batch + t) * n);
                for (int s = 0; s < live; s++)
                    for (int64_t f = 0; f < n; f++) {
                        float v = 1.0f - x[s * n + f] * ip[f];
                        x[s * n + f] = v > 0.0f ? v : 0.0f;
                    }
                sum_rows(present, nonzero(x, S, n, present), x, n, Wt, M, h);
                if (hidden_relu)
                    for (int64_t k = 0; k < S * M; k++) /* a product, to vectorise; + 0: -0 */
                        h[k] = (float)(h[k] > 0.0f) * h[k] + 0.0f;
                decode(Wr, br, h, M, n, m, z);
                for (int s = 0; s < live; s++) /* constant flags: both loops vectorise */
                    if (relu)
                        error_terms(z + s * n, x + s * n, scale, n, 1, lsf, gbf, gs + s * n);
                    else
                        error_terms(z + s * n, x + s * n, scale, n, 0, lsf, gbf, gs + s * n);
                memset(gs + live * n, 0, (size_t)((S - live) * n) * sizeof(float));
                sum_rows(active, nonzero(gs, S, n, active), gs, n, Wt, M, gh);
                if (hidden_relu)
                    for (int64_t k = 0; k < S * M; k++)
                        gh[k] *= (float)(h[k] > 0.0f);
                update_rows(changed, nonzero(x, 2 * S, n, changed), gs, x, n, h, gh, M, G);
            }
            for (int64_t i = 0; i < n * M; i++)
                Gd[i] += G[i];
            for (int64_t f = 0; f < n; f++) {
                gb[f] += gbf[f];
                ls[f] += lsf[f];
            }
        }
        double total = 0.0;
        for (int64_t f = 0; f < n; f++) {
            grad_b[r * n + f] = (float)(scale[f] * gb[f]);
            total += im[f] * ls[f];
            for (int64_t k = 0; k < m; k++)
                grad_W[(r * m + k) * n + f] = (float)Gd[f * M + k];
        }
        loss[r] = (float)(total / (double)(batch * n));
    }
    free(Gd); free(Wt); free(present);
}
