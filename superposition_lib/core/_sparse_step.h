/* The body of the sparse kernel (see sparse_tied_step in _kernels.c), included once per
 * instruction set with these macros defined:
 *   NAME(f)  the name of this instantiation's function f (a suffix per instruction set);
 *   TARGET   its target attribute (empty for the baseline);
 *   VW       floats per vector: one register of the instruction set;
 *   ZV       vectors per block of outputs in decode, which keeps S × ZV sums in registers;
 *   RV       vectors per block of columns in sum_rows, likewise S × RV sums;
 *   UV       vectors per block of columns in update_rows (see there);
 *   NONZERO  the index-list builder (nonzero_* in _kernels.c).
 * Every function of one instantiation carries its target, so that the helpers inline into the
 * step with the step's vector extensions. VW, ZV, RV and UV change which sums share a register
 * or a pass, never the order in which a sum's terms are added: every instantiation gives the same
 * bits. */

/* A vector of VW floats (GCC and Clang vector extensions), loaded from and stored to unaligned
 * memory. */
typedef float NAME(vec) __attribute__((vector_size(VW * sizeof(float))));
typedef float NAME(vec_unaligned) __attribute__((vector_size(VW * sizeof(float)), aligned(4)));
#define VEC NAME(vec)
TARGET static inline VEC NAME(load)(const float *p) { return *(const NAME(vec_unaligned) *)p; }
TARGET static inline void NAME(store)(float *p, VEC v) { *(NAME(vec_unaligned) *)p = v; }

/* Columns k0 .. k0 + width VW - 1 of out_s = Σ_j c_s[idx_j] rows[idx_j] for the S samples s (c:
 * S rows of n; rows: M floats each; out: S rows of M), with the S × width sums in registers
 * (width <= RV, a constant once inlined). */
TARGET static inline __attribute__((always_inline)) void NAME(sum_cols)(
    const int32_t *restrict idx, int64_t count, const float *restrict c, int64_t n,
    const float *restrict rows, int64_t M, int64_t k0, int width, float *restrict out)
{
    VEC a[S][RV] = {{{0}}};
    for (int64_t j = 0; j < count; j++) {
        VEC w[RV];
        for (int i = 0; i < width; i++)
            w[i] = NAME(load)(rows + idx[j] * M + k0 + i * VW);
        for (int s = 0; s < S; s++) {
            const float cs = c[s * n + idx[j]];
            for (int i = 0; i < width; i++)
                a[s][i] += cs * w[i];
        }
    }
    for (int s = 0; s < S; s++)
        for (int i = 0; i < width; i++)
            NAME(store)(out + s * M + k0 + i * VW, a[s][i]);
}

/* out_s = Σ_j c_s[idx_j] rows[idx_j] over all M columns: RV vectors at a time (S × RV sums in
 * flight, so that each sum's chain of additions does not wait on the previous one's latency),
 * then the remaining vectors one at a time. */
TARGET static inline void NAME(sum_rows)(const int32_t *restrict idx, int64_t count,
                                         const float *restrict c, int64_t n,
                                         const float *restrict rows, int64_t M,
                                         float *restrict out)
{
    int64_t k0 = 0;
    for (; k0 + RV * VW <= M; k0 += RV * VW)
        NAME(sum_cols)(idx, count, c, n, rows, M, k0, RV, out);
    for (; k0 < M; k0 += VW)
        NAME(sum_cols)(idx, count, c, n, rows, M, k0, 1, out);
}

/* z_s = b + Σ_k h_sk W_k for the S samples (W: m rows of n; h: S rows of M; z: S rows of n),
 * ZV vectors of outputs at a time with the S × ZV sums in registers, then the remainder. */
TARGET static inline void NAME(decode)(const float *restrict W, const float *restrict b,
                                       const float *restrict h, int64_t M, int64_t n,
                                       int64_t m, float *restrict z)
{
    int64_t f0 = 0;
    for (; f0 + ZV * VW <= n; f0 += ZV * VW) {
        VEC a[S][ZV];
        for (int i = 0; i < ZV; i++) {
            const VEC bias = NAME(load)(b + f0 + i * VW);
            for (int s = 0; s < S; s++)
                a[s][i] = bias;
        }
        for (int64_t k = 0; k < m; k++) {
            VEC w[ZV];
            for (int i = 0; i < ZV; i++)
                w[i] = NAME(load)(W + k * n + f0 + i * VW);
            for (int s = 0; s < S; s++) {
                const float hk = h[s * M + k];
                for (int i = 0; i < ZV; i++)
                    a[s][i] += hk * w[i];
            }
        }
        for (int s = 0; s < S; s++)
            for (int i = 0; i < ZV; i++)
                NAME(store)(z + s * n + f0 + i * VW, a[s][i]);
    }
    for (int s = 0; s < S; s++) {
        for (int64_t f = f0; f < n; f++)
            z[s * n + f] = b[f];
        for (int64_t k = 0; k < m; k++)
            for (int64_t f = f0; f < n; f++)
                z[s * n + f] += h[s * M + k] * W[k * n + f];
    }
}

/* Columns k0 .. k0 + width VW - 1 of G_f += Σ_s (gs_sf h_s + x_sf gh_s) for the listed rows f
 * of G (n rows of M), with those columns of h and gh (S rows of M each) held across the rows
 * (width <= UV, a constant once inlined, so that the loops over it unroll). */
TARGET static inline __attribute__((always_inline)) void NAME(update_cols)(
    const int32_t *restrict idx, int64_t count, const float *restrict gs,
    const float *restrict x, int64_t n, const float *restrict h, const float *restrict gh,
    int64_t M, int64_t k0, int width, float *restrict G)
{
    VEC hs[S][UV], ghs[S][UV];
    for (int s = 0; s < S; s++)
        for (int i = 0; i < width; i++) {
            hs[s][i] = NAME(load)(h + s * M + k0 + i * VW);
            ghs[s][i] = NAME(load)(gh + s * M + k0 + i * VW);
        }
    for (int64_t j = 0; j < count; j++) {
        float *restrict Gf = G + idx[j] * M + k0;
        VEC a[UV];
        for (int i = 0; i < width; i++)
            a[i] = NAME(load)(Gf + i * VW);
        for (int s = 0; s < S; s++) {
            const float cg = gs[s * n + idx[j]], cx = x[s * n + idx[j]];
            for (int i = 0; i < width; i++)
                a[i] += cg * hs[s][i] + cx * ghs[s][i];
        }
        for (int i = 0; i < width; i++)
            NAME(store)(Gf + i * VW, a[i]);
    }
}

/* G_f += Σ_s (gs_sf h_s + x_sf gh_s) for the listed rows f of G: UV vectors of columns per pass
 * over the rows, then the remaining vectors one at a time. G (n × M floats: 51 kB for n = 400,
 * m = 30) does not fit the first-level cache, so every pass fetches the listed rows again from
 * the second-level cache, and each pass loads each row's 2 S coefficients again; fewer, wider
 * passes save both, at the cost of h and gh no longer fitting the registers (the compiler
 * reloads some from the stack). Each element's terms are added in the same order whatever UV. */
TARGET static inline void NAME(update_rows)(const int32_t *restrict idx, int64_t count,
                                            const float *restrict gs, const float *restrict x,
                                            int64_t n, const float *restrict h,
                                            const float *restrict gh, int64_t M,
                                            float *restrict G)
{
    int64_t k0 = 0;
    for (; k0 + UV * VW <= M; k0 += UV * VW)
        NAME(update_cols)(idx, count, gs, x, n, h, gh, M, k0, UV, G);
    for (; k0 < M; k0 += VW)
        NAME(update_cols)(idx, count, gs, x, n, h, gh, M, k0, 1, G);
}

/* One sample's error terms: g_f = on_f (z_f - x_f) with on_f = [z_f > 0] (or 1 when linear),
 * accumulated into the loss (out_f - x_f)² and the bias gradient, and gs_f = scale_f g_f. */
TARGET static inline void NAME(error_terms)(const float *restrict z, const float *restrict x,
                                            const float *restrict scale, int64_t n, int relu,
                                            float *restrict ls, float *restrict gb,
                                            float *restrict gs)
{
    for (int64_t f = 0; f < n; f++) {
        float on = relu ? (float)(z[f] > 0.0f) : 1.0f;
        float e = on * z[f] - x[f], g = on * (z[f] - x[f]) + 0.0f;
        ls[f] += e * e;
        gb[f] += g;
        gs[f] = scale[f] * g;
    }
}

TARGET static void NAME(sparse_tied_step)(const float *restrict W, const float *restrict b,
                                          const float *restrict imp, const float *restrict inv_p,
                                          int64_t model0, int64_t model1, int64_t batch,
                                          int64_t n, int64_t m, int kind, uint64_t key, int64_t offset, float *restrict grad_W,
                                          float *restrict grad_b, float *restrict loss)
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
        for (int64_t r = model0; r < model1; r++)
            loss[r] = grad_b[r * n] = 0.0f / 0.0f;
        free(Gd); free(Wt); free(present);
        return;
    }
    const float norm = 2.0f / (float)(batch * n);
    const int relu = kind & RELU_OUT, hidden_relu = kind & RELU_HIDDEN;
    for (int64_t r = model0; r < model1; r++) {
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
                NAME(sum_rows)(present, NONZERO(x, S, n, present), x, n, Wt, M, h);
                if (hidden_relu)
                    for (int64_t k = 0; k < S * M; k++) /* a product, to vectorise; + 0: -0 */
                        h[k] = (float)(h[k] > 0.0f) * h[k] + 0.0f;
                NAME(decode)(Wr, br, h, M, n, m, z);
                for (int s = 0; s < live; s++) /* constant flags: both loops vectorise */
                    if (relu)
                        NAME(error_terms)(z + s * n, x + s * n, scale, n, 1, lsf, gbf,
                                          gs + s * n);
                    else
                        NAME(error_terms)(z + s * n, x + s * n, scale, n, 0, lsf, gbf,
                                          gs + s * n);
                memset(gs + live * n, 0, (size_t)((S - live) * n) * sizeof(float));
                NAME(sum_rows)(active, NONZERO(gs, S, n, active), gs, n, Wt, M, gh);
                if (hidden_relu)
                    for (int64_t k = 0; k < S * M; k++)
                        gh[k] *= (float)(h[k] > 0.0f);
                NAME(update_rows)(changed, NONZERO(x, 2 * S, n, changed), gs, x, n, h, gh, M,
                                  G);
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

#undef VEC
/* The parameters belong to this instantiation only: the next one defines its own. */
#undef NAME
#undef TARGET
#undef VW
#undef ZV
#undef RV
#undef UV
#undef NONZERO
