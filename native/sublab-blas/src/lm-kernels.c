// The language model's fused kernels for the wasm backend (main/lm/fused-kernels.ts): LayerNorm,
// GELU, causal multi-head attention, the cross-entropy loss and embeddings, forward and backward, and
// Adam, each one call over the whole batch on the wasm heap. In JavaScript they were scalar loops, and attention made six BLAS calls per sequence
// and head on [T, dh] blocks of T ~ 30 (~3,000 calls a step, each mostly overhead); here the
// inner loops run over contiguous rows the compiler vectorises, and attention reads q, k and v in place.
// Reductions (LayerNorm's moments, softmax's sums) are in double, as the JavaScript kernels had them.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "lm-kernels.h"

// Each kernel is compiled twice on x86-64 Linux, for AVX2 and for the baseline (SSE2), and the loader
// picks one per machine (GCC's ifunc): 8 lanes instead of 4 where the CPU has them. Both copies give
// the same numbers: AVX2 alone brings no FMA, and the vectorised loops are elementwise.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERNEL __attribute__((target_clones("avx2", "default"))) static
#else
#define KERNEL static
#endif

/** GPT-2's LayerNorm epsilon. */
static const double EPS = 1e-5;
/** GELU in its sigmoid form x sigmoid(A x). */
static const float A = 1.702f;

// ---- exp for float arguments, written so the compiler vectorises the loops that call it ----
// exp(x) = 2^n exp(r), n = x / ln 2 rounded to nearest, r = x - n ln 2 in two parts (|r| <= ln 2 / 2),
// exp(r) by its Taylor series to r^7 (truncation below 1e-8 relative): within 1e-7 relative of the true
// value over [-87, 88] (1e-38 and 2e38 beyond). n comes from adding 1.5 * 2^23, which rounds to an
// integer held in the low bits, and 2^n is built from those bits; with no call (glibc's expf) and no
// float-to-int conversion, the loops vectorise, for AVX2 too.
static inline float exp_approx(float x) {
  const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
  const float ROUND = 12582912.0f;   /* 1.5 * 2^23 */
  const int32_t ROUND_BITS = 0x4B400000; /* its bit pattern */
  x = x > -87.0f ? x : -87.0f;
  x = x < 88.0f ? x : 88.0f;
  float t = x * LOG2E + ROUND;
  float n = t - ROUND;
  float r = x - n * LN2_HI;
  r = r - n * LN2_LO;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits;
  memcpy(&bits, &t, sizeof bits);
  bits = (bits - ROUND_BITS + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// ---- LayerNorm over rows of d: y = xhat g + b, xhat = (x - mean) / sqrt(var + eps) ----
// Rows are taken LN_GROUP at a time: each row's sums still run in order, one double add after another,
// but the group's chains are independent, so the adder works on several at once where a row alone
// waits out each add's latency (forward 2.5x faster on 2,048 rows of 64, the same numbers to the bit).

#define LN_GROUP 8
/** Attention's rows taken together (causal_softmax_rows). */
#define ROW_GROUP 8
#define INLINE static inline __attribute__((always_inline))

/** `count` (<= LN_GROUP) rows from row 0 of x, y, xhat and rstd. */
INLINE void layer_norm_rows(int count, int d, const float* x, const float* g, const float* b, float* y,
                            float* xhat, float* rstd) {
  double mean[LN_GROUP] = {0}, var[LN_GROUP] = {0};
  for (int j = 0; j < d; j++)
    for (int k = 0; k < count; k++) mean[k] += x[(size_t)k * d + j];
  for (int k = 0; k < count; k++) mean[k] /= d;
  for (int j = 0; j < d; j++)
    for (int k = 0; k < count; k++) {
      const double c = x[(size_t)k * d + j] - mean[k];
      var[k] += c * c;
    }
  for (int k = 0; k < count; k++) {
    const double rs = 1.0 / sqrt(var[k] / d + EPS);
    const float* xr = x + (size_t)k * d;
    float* hr = xhat + (size_t)k * d;
    float* yr = y + (size_t)k * d;
    rstd[k] = (float)rs;
    for (int j = 0; j < d; j++) {
      double h = (xr[j] - mean[k]) * rs;
      hr[j] = (float)h;
      yr[j] = (float)(h * g[j] + b[j]);
    }
  }
}

KERNEL void layer_norm_forward(int rows, int d, const float* x, const float* g, const float* b, float* y,
                               float* xhat, float* rstd) {
  int r = 0;
  for (; r + LN_GROUP <= rows; r += LN_GROUP) {
    const size_t at = (size_t)r * d;
    layer_norm_rows(LN_GROUP, d, x + at, g, b, y + at, xhat + at, rstd + r);
  }
  for (; r < rows; r++) {
    const size_t at = (size_t)r * d;
    layer_norm_rows(1, d, x + at, g, b, y + at, xhat + at, rstd + r);
  }
}

/** dx of `count` (<= LN_GROUP) rows, and their terms added to sg and sb, row after row. */
INLINE void layer_norm_grad_rows(int count, int d, const float* xhat, const float* rstd, const float* g,
                                 const float* dy, float* dx, double* sg, double* sb) {
  double sum[LN_GROUP] = {0}, dot[LN_GROUP] = {0};
  for (int j = 0; j < d; j++)
    for (int k = 0; k < count; k++) {
      const size_t at = (size_t)k * d + j;
      const double dh = (double)dy[at] * g[j];
      sum[k] += dh;
      dot[k] += dh * xhat[at];
    }
  for (int k = 0; k < count; k++)
    for (int j = 0; j < d; j++) {
      const size_t at = (size_t)k * d + j;
      sg[j] += (double)dy[at] * xhat[at];
      sb[j] += dy[at];
    }
  for (int k = 0; k < count; k++) {
    const double mean = sum[k] / d, proj = dot[k] / d, rs = rstd[k];
    const float* hr = xhat + (size_t)k * d;
    const float* gy = dy + (size_t)k * d;
    float* dxr = dx + (size_t)k * d;
    for (int j = 0; j < d; j++) dxr[j] = (float)(rs * ((double)gy[j] * g[j] - mean - hr[j] * proj));
  }
}

/** dx, dg, db of y = xhat g + b for dy; dg and db are summed in double over the rows (acc, 2d). */
KERNEL void layer_norm_backward(int rows, int d, const float* xhat, const float* rstd, const float* g,
                                const float* dy, float* dx, float* dg, float* db, double* acc) {
  double* sg = acc;
  double* sb = acc + d;
  memset(acc, 0, sizeof(double) * 2 * (size_t)d);
  int r = 0;
  for (; r + LN_GROUP <= rows; r += LN_GROUP) {
    const size_t at = (size_t)r * d;
    layer_norm_grad_rows(LN_GROUP, d, xhat + at, rstd + r, g, dy + at, dx + at, sg, sb);
  }
  for (; r < rows; r++) {
    const size_t at = (size_t)r * d;
    layer_norm_grad_rows(1, d, xhat + at, rstd + r, g, dy + at, dx + at, sg, sb);
  }
  for (int j = 0; j < d; j++) {
    dg[j] = (float)sg[j];
    db[j] = (float)sb[j];
  }
}

// ---- GELU: y = x s, s = sigmoid(A x); s is kept for the backward pass ----

KERNEL void gelu_forward(size_t n, const float* restrict x, float* restrict y, float* restrict s) {
  // Two passes: as one loop the vectorised body runs out of registers and takes 2.4x as long.
  for (size_t i = 0; i < n; i++) s[i] = exp_approx(-A * x[i]);
  for (size_t i = 0; i < n; i++) {
    s[i] = 1.0f / (1.0f + s[i]);
    y[i] = x[i] * s[i];
  }
}

KERNEL void gelu_backward(size_t n, const float* x, const float* s, const float* dy, float* dx) {
  for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (s[i] + A * x[i] * s[i] * (1.0f - s[i]));
}

// ---- Cross-entropy of logits [N, V] against targets, weighted: -Σ w_r log p_r[target_r] / max(Σ w, 1) ----

/** The loss, and p = softmax(logits) per row (kept for the backward pass). */
KERNEL double cross_entropy_forward(int rows, int vocab, const float* restrict logits, const int32_t* targets,
                                    const float* weights, float* restrict p) {
  double total = 0, wsum = 0;
  for (int r = 0; r < rows; r++) {
    const float* x = logits + (size_t)r * vocab;
    float* pr = p + (size_t)r * vocab;
    float max = -INFINITY;
    for (int v = 0; v < vocab; v++) max = x[v] > max ? x[v] : max;
    for (int v = 0; v < vocab; v++) pr[v] = exp_approx(x[v] - max);
    double sum = 0;
    for (int v = 0; v < vocab; v++) sum += pr[v];
    for (int v = 0; v < vocab; v++) pr[v] = (float)(pr[v] / sum);
    wsum += weights[r];
    if (weights[r] != 0) total += weights[r] * ((x[targets[r]] - (double)max) - log(sum));
  }
  return -total / (wsum > 1 ? wsum : 1);
}

/** dlogits = dy w_r (p_r - onehot(target_r)) / max(Σ w, 1). */
KERNEL void cross_entropy_backward(int rows, int vocab, const float* restrict p, const int32_t* targets,
                                   const float* weights, float dy, float* restrict dx) {
  double wsum = 0;
  for (int r = 0; r < rows; r++) wsum += weights[r];
  const double scale = dy / (wsum > 1 ? wsum : 1);
  for (int r = 0; r < rows; r++) {
    const float* pr = p + (size_t)r * vocab;
    float* dr = dx + (size_t)r * vocab;
    const float f = (float)(weights[r] * scale);
    for (int v = 0; v < vocab; v++) dr[v] = f * pr[v];
    dr[targets[r]] -= f;
  }
}

// ---- Embedding rows by id: out[r] = table[ids[r]]; its gradient adds dy's rows back by id ----

KERNEL void embed_forward(int n, int d, const int32_t* ids, const float* restrict table, float* restrict out) {
  for (int r = 0; r < n; r++) memcpy(out + (size_t)r * d, table + (size_t)ids[r] * d, sizeof(float) * d);
}

KERNEL void embed_backward(int n, int vocab, int d, const int32_t* ids, const float* restrict dy,
                           float* restrict dtable) {
  memset(dtable, 0, sizeof(float) * (size_t)vocab * d);
  for (int r = 0; r < n; r++) {
    float* row = dtable + (size_t)ids[r] * d;
    const float* g = dy + (size_t)r * d;
    for (int e = 0; e < d; e++) row[e] += g[e];
  }
}

// ---- Adam: tf.train.adam's update, each operation rounded to float32 as TF.js's kernels round it ----

typedef struct {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, epsilon, neg_lr, c1, c2;
} AdamConsts;

KERNEL void adam(size_t n, const float* restrict p, const float* restrict m, const float* restrict s,
                 const float* restrict g, float* restrict p_out, float* restrict m_out, float* restrict s_out,
                 AdamConsts a) {
  for (size_t i = 0; i < n; i++) {
    const float mi = m[i] * a.beta1 + g[i] * a.one_minus_beta1;
    const float si = s[i] * a.beta2 + (g[i] * g[i]) * a.one_minus_beta2;
    m_out[i] = mi;
    s_out[i] = si;
    p_out[i] = ((mi / a.c1) / (sqrtf(si / a.c2) + a.epsilon)) * a.neg_lr + p[i];
  }
}

// ---- Causal multi-head attention ----
// qkv [N, 3d]: q, k and v side by side, each with its H heads of dh side by side (d = H dh); rows
// hold sequences of lengths[s] positions one after another, and a sequence attends within itself.
// probs holds each sequence's heads' [T, T] probabilities in turn (zero above the diagonal).

typedef struct {
  const int32_t* lengths;
  int count; /* sequences */
  int heads;
  int dh;
  int longest;
} AttnShape;

/** The widest head the kernels take (the spec's d_model is at most 1024): rows' accumulators are arrays this long. */
#define MAX_DH 1024

/** kt[e, j] = k_j[e] for j < t: a head's keys (or values) transposed, so a row's dot products vectorise. */
INLINE void transpose_head(const float* restrict src, size_t stride, int t, int dh, float* restrict kt) {
  for (int j = 0; j < t; j++)
    for (int e = 0; e < dh; e++) kt[(size_t)e * t + j] = src[(size_t)j * stride + e];
}

/**
 * The causal softmax of scores scaled by `scale`, in place, for rows first .. first + count - 1
 * (count <= ROW_GROUP) of a [t, t] block, `p` at row `first`; masked entries become 0. Each row's max
 * and sum run in order as one row alone would run them, but the group's run side by side (entries
 * past a row's end are -inf for the max, then 0 for the sum, and change neither), so the adder is not
 * idle on each double add's latency.
 */
INLINE void causal_softmax_rows(float* restrict p, int t, int first, int count, float scale) {
  const int last = first + count - 1;
  float max[ROW_GROUP];
  double sum[ROW_GROUP] = {0};
  for (int k = 0; k < count; k++) {
    float* pk = p + (size_t)k * t;
    for (int j = 0; j <= first + k; j++) pk[j] *= scale;
    for (int j = first + k + 1; j <= last; j++) pk[j] = -INFINITY;
    max[k] = -INFINITY;
  }
  for (int j = 0; j <= last; j++)
    for (int k = 0; k < count; k++) {
      const float x = p[(size_t)k * t + j];
      if (x > max[k]) max[k] = x;
    }
  for (int k = 0; k < count; k++) {
    float* pk = p + (size_t)k * t;
    for (int j = 0; j <= first + k; j++) pk[j] = exp_approx(pk[j] - max[k]);
    for (int j = first + k + 1; j <= last; j++) pk[j] = 0;
  }
  for (int j = 0; j <= last; j++)
    for (int k = 0; k < count; k++) sum[k] += p[(size_t)k * t + j];
  for (int k = 0; k < count; k++) {
    float* pk = p + (size_t)k * t;
    const int i = first + k;
    for (int j = 0; j <= i; j++) pk[j] = (float)(pk[j] / sum[k]);
    for (int j = i + 1; j < t; j++) pk[j] = 0;
  }
}

/** One window (a sequence's head): q, k, v at base (+d, +2d), rows `stride` apart; out rows d apart. */
typedef struct {
  const float* base;
  size_t stride;
  int d;
  int t;
} Window;

// The per-window kernels take the head width dh as an argument and are inlined into copies for the
// common widths (attention_*_dh below), where a constant dh lets a row's accumulators live in registers.

typedef float v8 __attribute__((vector_size(32)));

/** acc += w x[0..8) (through a pointer: a vector passed by value would change the ABI per target). */
INLINE void axpy8(v8* acc, float w, const float* x) {
  v8 v;
  memcpy(&v, x, sizeof v);
  *acc += w * v;
}

/**
 * row[j] = a · bt[:, j] for j <= i, bt [dh, t] transposed. Eight j at a time in a register, e in order,
 * as far as the row's room allows (entries after i may be written up to row[t - 1]; no caller reads
 * them); the rest accumulate in memory. Both sum e in the same order, so they agree to the bit.
 */
INLINE void dots(const float* restrict a, const float* restrict bt, int t, int i, int dh, float* restrict row) {
  int from = 0;
  for (; from <= i && from + 8 <= t; from += 8) {
    v8 acc = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int e = 0; e < dh; e++) axpy8(&acc, a[e], bt + (size_t)e * t + from);
    memcpy(row + from, &acc, sizeof acc);
  }
  for (int j = from; j <= i; j++) row[j] = 0;
  for (int e = 0; e < dh; e++) {
    const float ae = a[e];
    const float* br = bt + (size_t)e * t;
    for (int j = from; j <= i; j++) row[j] += ae * br[j];
  }
}

/**
 * out[e] = Σ_{r = from..to} w[r wstride] rows[r rstride + e] for e < dh: attention's outputs and its
 * gradients are all weighted sums of rows. Where dh is a multiple of 8 the row accumulates in 8-lane
 * vectors (registers, with dh constant); GCC's auto-vectoriser left these loops scalar.
 */
INLINE void weighted_sum(float* restrict out, const float* restrict w, size_t wstride, const float* restrict rows,
                         size_t rstride, int from, int to, int dh) {
  if (dh % 8 == 0) {
    v8 acc[MAX_DH / 8];
    const int n = dh / 8;
    for (int u = 0; u < n; u++) acc[u] = (v8){0, 0, 0, 0, 0, 0, 0, 0};
    for (int r = from; r <= to; r++) {
      const float wr = w[r * wstride];
      const float* x = rows + r * rstride;
      for (int u = 0; u < n; u++) axpy8(&acc[u], wr, x + 8 * u);
    }
    for (int u = 0; u < n; u++) memcpy(out + 8 * u, &acc[u], sizeof acc[u]);
    return;
  }
  for (int e = 0; e < dh; e++) out[e] = 0;
  for (int r = from; r <= to; r++)
    for (int e = 0; e < dh; e++) out[e] += w[r * wstride] * rows[r * rstride + e];
}

INLINE void window_forward(Window w, int dh, float scale, float* restrict p, float* restrict out, float* restrict kt) {
  transpose_head(w.base + w.d, w.stride, w.t, dh, kt);
  for (int first = 0; first < w.t; first += ROW_GROUP) {
    const int count = w.t - first < ROW_GROUP ? w.t - first : ROW_GROUP;
    for (int i = first; i < first + count; i++) dots(w.base + i * w.stride, kt, w.t, i, dh, p + (size_t)i * w.t);
    causal_softmax_rows(p + (size_t)first * w.t, w.t, first, count, scale);
    for (int i = first; i < first + count; i++)  // Σ_j p_ij v_j
      weighted_sum(out + (size_t)i * w.d, p + (size_t)i * w.t, 1, w.base + 2 * (size_t)w.d, w.stride, 0, i, dh);
  }
}

/**
 * The window's dq, dk and dv, written (not added) at dbase (+d, +2d): dS = P (dP - rowsum(P dP)) scale
 * with dP = dO vᵀ, then dq_i = Σ_j dS_ij k_j, dk_j = Σ_i dS_ij q_i, dv_j = Σ_i P_ij dO_i.
 */
INLINE void window_backward(Window w, int dh, double scale, const float* restrict p, const float* restrict dy,
                            float* restrict dbase, float* restrict vt, float* restrict ds) {
  const int t = w.t, d = w.d;
  const size_t stride = w.stride;
  transpose_head(w.base + 2 * (size_t)d, stride, t, dh, vt);
  // dS row by row, ROW_GROUP rows at a time: each row's Σ_j P_ij dP_ij runs in order, the group's side
  // by side (as causal_softmax_rows; P is 0 past a row's end and dP is made 0 there).
  for (int first = 0; first < t; first += ROW_GROUP) {
    const int count = t - first < ROW_GROUP ? t - first : ROW_GROUP, last = first + count - 1;
    double dot[ROW_GROUP] = {0};
    for (int i = first; i <= last; i++) {
      float* dsi = ds + (size_t)i * t;
      dots(dy + (size_t)i * d, vt, t, i, dh, dsi);  // dP_ij = dO_i · v_j
      for (int j = i + 1; j <= last; j++) dsi[j] = 0;
    }
    for (int j = 0; j <= last; j++)
      for (int k = 0; k < count; k++) {
        const size_t at = (size_t)(first + k) * t + j;
        dot[k] += (double)p[at] * ds[at];
      }
    for (int k = 0; k < count; k++) {
      const float* pi = p + (size_t)(first + k) * t;
      float* dsi = ds + (size_t)(first + k) * t;
      for (int j = 0; j <= first + k; j++) dsi[j] = (float)(pi[j] * (dsi[j] - dot[k]) * scale);
    }
  }
  for (int i = 0; i < t; i++)
    weighted_sum(dbase + i * stride, ds + (size_t)i * t, 1, w.base + d, stride, 0, i, dh);
  for (int j = 0; j < t; j++) {
    weighted_sum(dbase + j * stride + d, ds + j, t, w.base, stride, j, t - 1, dh);
    weighted_sum(dbase + j * stride + 2 * (size_t)d, p + j, t, dy, d, j, t - 1, dh);
  }
}

/** Calls `f(window, probs, first row)` for every sequence and head, in the order probs is laid out. */
#define EACH_WINDOW(sh, qkv, probs, BODY)                                                              \
  do {                                                                                             \
    const int d_ = (sh)->heads * (sh)->dh;                                                         \
    const size_t stride_ = 3 * (size_t)d_;                                                         \
    size_t row_ = 0;                                                                               \
    const float* probs_ = (probs);                                                                 \
    for (int s_ = 0; s_ < (sh)->count; s_++) {                                                     \
      const int t_ = (sh)->lengths[s_];                                                            \
      for (int h_ = 0; h_ < (sh)->heads; h_++, probs_ += (size_t)t_ * t_) {                        \
        const size_t at_ = row_ * stride_ + (size_t)h_ * (sh)->dh;                                 \
        const size_t out_ = row_ * d_ + (size_t)h_ * (sh)->dh;                                     \
        Window w = {(qkv) + at_, stride_, d_, t_};                                                 \
        (void)out_;                                                                                \
        BODY;                                                                                      \
      }                                                                                            \
      row_ += t_;                                                                                  \
    }                                                                                              \
  } while (0)

INLINE void attention_forward_dh(const AttnShape* sh, int dh, const float* qkv, float* out, float* probs,
                                 float* kt) {
  const float scale = (float)(1.0 / sqrt((double)dh));
  EACH_WINDOW(sh, qkv, probs, window_forward(w, dh, scale, (float*)probs_, out + out_, kt));
}

INLINE void attention_backward_dh(const AttnShape* sh, int dh, const float* qkv, const float* probs,
                                  const float* dy, float* dqkv, float* vt, float* ds) {
  const double scale = 1.0 / sqrt((double)dh);
  EACH_WINDOW(sh, qkv, probs, window_backward(w, dh, scale, probs_, dy + out_, dqkv + at_, vt, ds));
}

KERNEL void attention_forward(const AttnShape* sh, const float* qkv, float* out, float* probs, float* kt) {
  switch (sh->dh) {
    case 8: attention_forward_dh(sh, 8, qkv, out, probs, kt); break;
    case 16: attention_forward_dh(sh, 16, qkv, out, probs, kt); break;
    case 32: attention_forward_dh(sh, 32, qkv, out, probs, kt); break;
    case 64: attention_forward_dh(sh, 64, qkv, out, probs, kt); break;
    default: attention_forward_dh(sh, sh->dh, qkv, out, probs, kt);
  }
}

KERNEL void attention_backward(const AttnShape* sh, const float* qkv, const float* probs, const float* dy,
                               float* dqkv, float* vt, float* ds) {
  switch (sh->dh) {
    case 8: attention_backward_dh(sh, 8, qkv, probs, dy, dqkv, vt, ds); break;
    case 16: attention_backward_dh(sh, 16, qkv, probs, dy, dqkv, vt, ds); break;
    case 32: attention_backward_dh(sh, 32, qkv, probs, dy, dqkv, vt, ds); break;
    case 64: attention_backward_dh(sh, 64, qkv, probs, dy, dqkv, vt, ds); break;
    default: attention_backward_dh(sh, sh->dh, qkv, probs, dy, dqkv, vt, ds);
  }
}

// ---- One decoding step of attention against a cache kept by the caller ----
// Each of b sequences adds its key and value at position pos and attends from its query over
// positions 0..pos: the cache grows in place, one position a step, where a cache of TF.js tensors is
// copied whole (concat) at every step. Keys are kept transposed, [b, heads, dh, context], so a query's
// scores are the vectorised row `dots` of training's attention; values as [b, context, d].

INLINE void decode_attention_dh(int b, int heads, int dh, int pos, int context, const int32_t* rows,
                                const float* restrict qkv, float* restrict kcache, float* restrict vcache,
                                float* restrict out, float* restrict p) {
  const int d = heads * dh;
  const float scale = (float)(1.0 / sqrt((double)dh));
  for (int r = 0; r < b; r++) {
    const size_t row = rows ? (size_t)rows[r] : (size_t)r;  // whose cache: rows maps a packed row to it
    const float* x = qkv + (size_t)r * 3 * d;
    float* kt = kcache + row * context * d;  // [heads, dh, context]
    float* vr = vcache + row * context * d;  // [context, d]
    for (int c = 0; c < d; c++) kt[(size_t)c * context + pos] = x[d + c];
    memcpy(vr + (size_t)pos * d, x + 2 * (size_t)d, sizeof(float) * d);
    for (int h = 0; h < heads; h++) {
      dots(x + (size_t)h * dh, kt + (size_t)h * dh * context, context, pos, dh, p);
      causal_softmax_rows(p, pos + 1, pos, 1, scale);
      weighted_sum(out + (size_t)r * d + (size_t)h * dh, p, 1, vr + (size_t)h * dh, d, 0, pos, dh);
    }
  }
}

/**
 * b query rows at position pos; row r's key and value go to cache row rows[r] (rows NULL: row r), so
 * a step may decode only the sequences still running while each keeps its place in the caches.
 */
KERNEL void decode_attention(int b, int heads, int dh, int pos, int context, const int32_t* rows, const float* qkv,
                             float* kcache, float* vcache, float* out, float* p) {
  switch (dh) {
    case 8: decode_attention_dh(b, heads, 8, pos, context, rows, qkv, kcache, vcache, out, p); break;
    case 16: decode_attention_dh(b, heads, 16, pos, context, rows, qkv, kcache, vcache, out, p); break;
    case 32: decode_attention_dh(b, heads, 32, pos, context, rows, qkv, kcache, vcache, out, p); break;
    case 64: decode_attention_dh(b, heads, 64, pos, context, rows, qkv, kcache, vcache, out, p); break;
    default: decode_attention_dh(b, heads, dh, pos, context, rows, qkv, kcache, vcache, out, p);
  }
}

// ---- One whole decoding step: every block and the head in one call ----
// Sampling decodes a position at a time for B sequences; through TF.js each step is ~60 kernel calls on
// [B, d] tensors, whose dispatch cost more than their arithmetic. Here the step is the same chain of the
// same functions (LayerNorm, the BLAS products with the bias as their starting value, decoding attention,
// GELU, the residual adds), so its logits are those of the TF.js chain to the bit (fused.test.ts).

/** A decoding step's sizes, and the position it decodes. */
typedef struct {
  int b, layers, d, heads, hidden, vocab, context, pos;
} StepShape;

/** Parameters in paramShapes' order (model.ts): tokEmb, posEmb, 12 per block, lnfg, lnfb, wout, bout. */
enum { BLOCK_PARAMS = 12, EDGE_PARAMS = 6, MAX_LAYERS = 64 };
enum { LN1G, LN1B, WQKV, BQKV, WO, BO, LN2G, LN2B, W1, B1, W2, B2 };

static lm_sgemm step_sgemm;

/** out[b, n] = a[b, k] w[k, n] + bias: the bias is the product's starting value, as blas-matmul.ts's. */
static void dense_rows(int rows, int k, int n, const float* a, const float* w, const float* bias, float* out) {
  for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * n, bias, sizeof(float) * n);
  step_sgemm(false, false, rows, n, k, a, w, out, true);
}

static void add_into(size_t n, const float* a, const float* b, float* out) {
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** Floats of scratch a step needs. */
static size_t step_scratch(const StepShape* s) {
  return (size_t)s->b * (9 * (size_t)s->d + 3 * (size_t)s->hidden + 1) + (size_t)s->context;
}

/**
 * The step for the n sequences rows[0..n) of the b the caches hold (rows ascending): they are packed
 * into the first n rows of every buffer, and their logits moved to their own rows afterwards. Every
 * other row's logits are 0 and its caches untouched: a sequence that has ended costs nothing.
 */
static void decode_step(const StepShape* s, int n, const int32_t* rows, const int32_t* ids, float* const* p,
                        float* const* kc, float* const* vc, float* scratch, float* logits) {
  const size_t bd = (size_t)s->b * s->d, bh = (size_t)s->b * s->hidden, nd = (size_t)n * s->d;
  const size_t nh = (size_t)n * s->hidden;
  float *x = scratch, *h = x + bd, *xhat = h + bd, *att = xhat + bd, *x1 = att + bd, *tmp = x1 + bd;
  float *qkv = tmp + bd, *rstd = qkv + 3 * bd, *hid = rstd + s->b, *act = hid + bh, *sig = act + bh;
  float* probs = sig + bh;
  const float* pos = p[1] + (size_t)s->pos * s->d;
  if (n == 0) {  // every sequence has ended: a step still stands for the position, so the caller's loop runs
    memset(logits, 0, sizeof(float) * s->vocab * (size_t)s->b);
    return;
  }
  for (int r = 0; r < n; r++)
    add_into(s->d, p[0] + (size_t)ids[rows[r]] * s->d, pos, x + (size_t)r * s->d);
  for (int l = 0; l < s->layers; l++) {
    float* const* q = p + 2 + (size_t)l * BLOCK_PARAMS;
    layer_norm_forward(n, s->d, x, q[LN1G], q[LN1B], h, xhat, rstd);
    dense_rows(n, s->d, 3 * s->d, h, q[WQKV], q[BQKV], qkv);
    decode_attention(n, s->heads, s->d / s->heads, s->pos, s->context, rows, qkv, kc[l], vc[l], att, probs);
    dense_rows(n, s->d, s->d, att, q[WO], q[BO], tmp);
    add_into(nd, x, tmp, x1);
    layer_norm_forward(n, s->d, x1, q[LN2G], q[LN2B], h, xhat, rstd);
    dense_rows(n, s->d, s->hidden, h, q[W1], q[B1], hid);
    gelu_forward(nh, hid, act, sig);
    dense_rows(n, s->hidden, s->d, act, q[W2], q[B2], tmp);
    add_into(nd, x1, tmp, x);
  }
  float* const* f = p + 2 + (size_t)s->layers * BLOCK_PARAMS;
  layer_norm_forward(n, s->d, x, f[0], f[1], h, xhat, rstd);
  dense_rows(n, s->d, s->vocab, h, f[2], f[3], logits);
  // Packed row r moves to row rows[r] >= r, the last first, so no row is overwritten before it moves.
  const size_t v = (size_t)s->vocab;
  int next = s->b;  // rows from here on are placed
  for (int r = n - 1; r >= 0; r--) {
    const int to = rows[r];
    if (to != r) memcpy(logits + (size_t)to * v, logits + (size_t)r * v, sizeof(float) * v);
    memset(logits + (size_t)(to + 1) * v, 0, sizeof(float) * v * (size_t)(next - to - 1));
    next = to;
  }
  memset(logits, 0, sizeof(float) * v * (size_t)next);
}

// ---- N-API wrappers: shapes first, then arrays, each checked against what the shapes need ----

static bool rows_and_width(napi_env env, napi_value* argv, int* rows, int* d) {
  return dimension(env, argv[0], "rows", rows) && dimension(env, argv[1], "d", d);
}

// lmLayerNorm(rows, d, x, g, b, y, xhat, rstd)
static napi_value lm_layer_norm(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int rows, d;
  float *x, *g, *b, *y, *xhat, *rstd;
  if (!arg_count(env, info, 8, argv, "lmLayerNorm takes (rows, d, x, g, b, y, xhat, rstd)") ||
      !rows_and_width(env, argv, &rows, &d))
    return NULL;
  size_t n = (size_t)rows * d;
  if (!float32_array(env, argv[2], "x", n, &x) || !float32_array(env, argv[3], "g", d, &g) ||
      !float32_array(env, argv[4], "b", d, &b) || !float32_array(env, argv[5], "y", n, &y) ||
      !float32_array(env, argv[6], "xhat", n, &xhat) || !float32_array(env, argv[7], "rstd", rows, &rstd))
    return NULL;
  if (d > 0) layer_norm_forward(rows, d, x, g, b, y, xhat, rstd);
  return NULL;
}

// lmLayerNormGrad(rows, d, xhat, rstd, g, dy, dx, dg, db)
static napi_value lm_layer_norm_grad(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  int rows, d;
  float *xhat, *rstd, *g, *dy, *dx, *dg, *db;
  if (!arg_count(env, info, 9, argv, "lmLayerNormGrad takes (rows, d, xhat, rstd, g, dy, dx, dg, db)") ||
      !rows_and_width(env, argv, &rows, &d))
    return NULL;
  size_t n = (size_t)rows * d;
  if (!float32_array(env, argv[2], "xhat", n, &xhat) || !float32_array(env, argv[3], "rstd", rows, &rstd) ||
      !float32_array(env, argv[4], "g", d, &g) || !float32_array(env, argv[5], "dy", n, &dy) ||
      !float32_array(env, argv[6], "dx", n, &dx) || !float32_array(env, argv[7], "dg", d, &dg) ||
      !float32_array(env, argv[8], "db", d, &db))
    return NULL;
  if (d == 0) return NULL;
  double* acc = malloc(sizeof(double) * 2 * (size_t)d);
  if (!acc) {
    napi_throw_error(env, NULL, "lmLayerNormGrad: out of memory");
    return NULL;
  }
  layer_norm_backward(rows, d, xhat, rstd, g, dy, dx, dg, db, acc);
  free(acc);
  return NULL;
}

// lmGelu(n, x, y, s)
static napi_value lm_gelu(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int n;
  float *x, *y, *s;
  if (!arg_count(env, info, 4, argv, "lmGelu takes (n, x, y, s)") || !dimension(env, argv[0], "n", &n) ||
      !float32_array(env, argv[1], "x", n, &x) || !float32_array(env, argv[2], "y", n, &y) ||
      !float32_array(env, argv[3], "s", n, &s))
    return NULL;
  gelu_forward(n, x, y, s);
  return NULL;
}

// lmGeluGrad(n, x, s, dy, dx)
static napi_value lm_gelu_grad(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int n;
  float *x, *s, *dy, *dx;
  if (!arg_count(env, info, 5, argv, "lmGeluGrad takes (n, x, s, dy, dx)") ||
      !dimension(env, argv[0], "n", &n) || !float32_array(env, argv[1], "x", n, &x) ||
      !float32_array(env, argv[2], "s", n, &s) || !float32_array(env, argv[3], "dy", n, &dy) ||
      !float32_array(env, argv[4], "dx", n, &dx))
    return NULL;
  gelu_backward(n, x, s, dy, dx);
  return NULL;
}

/** ids [n], each below `below` (the table's rows). */
static bool ids_array(napi_env env, napi_value v, const char* name, int n, int below, int32_t** ids) {
  if (!int32_array(env, v, name, n, ids)) return false;
  for (int r = 0; r < n; r++)
    if ((*ids)[r] < 0 || (*ids)[r] >= below) {
      char message[96];
      snprintf(message, sizeof message, "%s must be row ids below %d", name, below);
      napi_throw_range_error(env, NULL, message);
      return false;
    }
  return true;
}

/** The embedding kernels' (n, vocab, d, ids) at argv[0..3], of 6 arguments. */
static bool embed_head(napi_env env, napi_callback_info info, const char* usage, napi_value* argv, int* n,
                       int* vocab, int* d, int32_t** ids) {
  return arg_count(env, info, 6, argv, usage) && dimension(env, argv[0], "n", n) &&
         dimension(env, argv[1], "vocab", vocab) && dimension(env, argv[2], "d", d) &&
         ids_array(env, argv[3], "ids", *n, *vocab, ids);
}

// lmEmbed(n, vocab, d, ids, table, out)
static napi_value lm_embed(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int n, vocab, d;
  int32_t* ids;
  float *table, *out;
  if (!embed_head(env, info, "lmEmbed takes (n, vocab, d, ids, table, out)", argv, &n, &vocab, &d, &ids) ||
      !float32_array(env, argv[4], "table", (size_t)vocab * d, &table) ||
      !float32_array(env, argv[5], "out", (size_t)n * d, &out))
    return NULL;
  embed_forward(n, d, ids, table, out);
  return NULL;
}

// lmEmbedGrad(n, vocab, d, ids, dy, dtable)
static napi_value lm_embed_grad(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int n, vocab, d;
  int32_t* ids;
  float *dy, *dtable;
  if (!embed_head(env, info, "lmEmbedGrad takes (n, vocab, d, ids, dy, dtable)", argv, &n, &vocab, &d, &ids) ||
      !float32_array(env, argv[4], "dy", (size_t)n * d, &dy) ||
      !float32_array(env, argv[5], "dtable", (size_t)vocab * d, &dtable))
    return NULL;
  embed_backward(n, vocab, d, ids, dy, dtable);
  return NULL;
}

static bool number_arg(napi_env env, napi_value v, const char* name, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char message[64];
    snprintf(message, sizeof message, "%s must be a number", name);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  return true;
}

// lmAdam(n, p, m, s, g, pOut, mOut, sOut, beta1, beta2, epsilon, learningRate, c1, c2): c1, c2 are
// 1 - beta^t; every constant is rounded to float32 first, as TF.js's scalars are.
static napi_value lm_adam(napi_env env, napi_callback_info info) {
  napi_value argv[14];
  int n;
  float *p, *m, *s, *g, *po, *mo, *so;
  double beta1, beta2, epsilon, lr, c1, c2;
  if (!arg_count(env, info, 14, argv,
                 "lmAdam takes (n, p, m, s, g, pOut, mOut, sOut, beta1, beta2, epsilon, learningRate, c1, c2)") ||
      !dimension(env, argv[0], "n", &n) || !float32_array(env, argv[1], "p", n, &p) ||
      !float32_array(env, argv[2], "m", n, &m) || !float32_array(env, argv[3], "s", n, &s) ||
      !float32_array(env, argv[4], "g", n, &g) || !float32_array(env, argv[5], "pOut", n, &po) ||
      !float32_array(env, argv[6], "mOut", n, &mo) || !float32_array(env, argv[7], "sOut", n, &so) ||
      !number_arg(env, argv[8], "beta1", &beta1) || !number_arg(env, argv[9], "beta2", &beta2) ||
      !number_arg(env, argv[10], "epsilon", &epsilon) || !number_arg(env, argv[11], "learningRate", &lr) ||
      !number_arg(env, argv[12], "c1", &c1) || !number_arg(env, argv[13], "c2", &c2))
    return NULL;
  AdamConsts a = {
      .beta1 = (float)beta1,
      .beta2 = (float)beta2,
      .one_minus_beta1 = (float)(1 - beta1),
      .one_minus_beta2 = (float)(1 - beta2),
      .epsilon = (float)epsilon,
      .neg_lr = (float)-lr,
      .c1 = (float)c1,
      .c2 = (float)c2,
  };
  adam(n, p, m, s, g, po, mo, so, a);
  return NULL;
}

/** The cross-entropy kernels' (rows, vocab) at argv[0..1] and targets at argv[3], of `count` arguments. */
static bool cross_entropy_head(napi_env env, napi_callback_info info, size_t count, const char* usage,
                               napi_value* argv, int* rows, int* vocab, int32_t** targets) {
  if (!arg_count(env, info, count, argv, usage) || !dimension(env, argv[0], "rows", rows) ||
      !dimension(env, argv[1], "vocab", vocab))
    return false;
  if (*vocab < 1) {
    napi_throw_range_error(env, NULL, "vocab must be at least 1");
    return false;
  }
  return ids_array(env, argv[3], "targets", *rows, *vocab, targets);
}

// lmCrossEntropy(rows, vocab, logits, targets, weights, probs) -> the loss
static napi_value lm_cross_entropy(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  int rows, vocab;
  float *logits, *weights, *probs;
  int32_t* targets;
  if (!cross_entropy_head(env, info, 6, "lmCrossEntropy takes (rows, vocab, logits, targets, weights, probs)",
                          argv, &rows, &vocab, &targets))
    return NULL;
  size_t n = (size_t)rows * vocab;
  if (!float32_array(env, argv[2], "logits", n, &logits) || !float32_array(env, argv[4], "weights", rows, &weights) ||
      !float32_array(env, argv[5], "probs", n, &probs))
    return NULL;
  CHECK(napi_create_double(env, cross_entropy_forward(rows, vocab, logits, targets, weights, probs), &result));
  return result;
}

// lmCrossEntropyGrad(rows, vocab, probs, targets, weights, dy, dlogits); dy holds the loss's gradient
static napi_value lm_cross_entropy_grad(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int rows, vocab;
  float *probs, *weights, *dy, *dx;
  int32_t* targets;
  if (!cross_entropy_head(env, info, 7,
                          "lmCrossEntropyGrad takes (rows, vocab, probs, targets, weights, dy, dlogits)", argv,
                          &rows, &vocab, &targets))
    return NULL;
  size_t n = (size_t)rows * vocab;
  if (!float32_array(env, argv[2], "probs", n, &probs) || !float32_array(env, argv[4], "weights", rows, &weights) ||
      !float32_array(env, argv[5], "dy", 1, &dy) || !float32_array(env, argv[6], "dlogits", n, &dx))
    return NULL;
  cross_entropy_backward(rows, vocab, probs, targets, weights, *dy, dx);
  return NULL;
}

/** lengths (Int32Array of positive lengths), heads, dh; the rows they cover and the probabilities' size. */
static bool attention_shape(napi_env env, napi_value* argv, AttnShape* sh, size_t* rows, size_t* probs) {
  napi_typedarray_type type;
  size_t count;
  void* data;
  if (napi_get_typedarray_info(env, argv[0], &type, &count, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    napi_throw_type_error(env, NULL, "lengths must be an Int32Array");
    return false;
  }
  if (!dimension(env, argv[1], "heads", &sh->heads) || !dimension(env, argv[2], "dh", &sh->dh)) return false;
  if (count > 1 << 24 || sh->heads < 1 || sh->dh < 1 || sh->dh > MAX_DH || (size_t)sh->heads * sh->dh > 1 << 20) {
    napi_throw_range_error(env, NULL, "attention: at most 2^24 sequences, at least one head, heads 1 to 1024 wide");
    return false;
  }
  sh->lengths = data;
  sh->count = (int)count;
  sh->longest = 0;
  *rows = 0;
  *probs = 0;
  for (size_t s = 0; s < count; s++) {
    int32_t t = sh->lengths[s];
    if (t < 1 || t > 1 << 16) {
      napi_throw_range_error(env, NULL, "attention: every sequence length must be from 1 to 65536");
      return false;
    }
    if (t > sh->longest) sh->longest = t;
    *rows += t;
    *probs += (size_t)sh->heads * t * t;
  }
  return true;
}

/** Scratch of `floats` floats, or a thrown error. */
static float* scratch(napi_env env, size_t floats) {
  float* p = malloc(sizeof(float) * (floats > 0 ? floats : 1));
  if (!p) napi_throw_error(env, NULL, "attention: out of memory");
  return p;
}

// lmAttention(lengths, heads, dh, qkv, out, probs)
static napi_value lm_attention(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  AttnShape sh;
  size_t rows, nprobs;
  float *qkv, *out, *probs;
  if (!arg_count(env, info, 6, argv, "lmAttention takes (lengths, heads, dh, qkv, out, probs)") ||
      !attention_shape(env, argv, &sh, &rows, &nprobs))
    return NULL;
  size_t d = (size_t)sh.heads * sh.dh;
  if (!float32_array(env, argv[3], "qkv", rows * 3 * d, &qkv) ||
      !float32_array(env, argv[4], "out", rows * d, &out) || !float32_array(env, argv[5], "probs", nprobs, &probs))
    return NULL;
  float* kt = scratch(env, (size_t)sh.dh * sh.longest);
  if (!kt) return NULL;
  attention_forward(&sh, qkv, out, probs, kt);
  free(kt);
  return NULL;
}

// lmAttentionGrad(lengths, heads, dh, qkv, probs, dy, dqkv)
static napi_value lm_attention_grad(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  AttnShape sh;
  size_t rows, nprobs;
  float *qkv, *probs, *dy, *dqkv;
  if (!arg_count(env, info, 7, argv, "lmAttentionGrad takes (lengths, heads, dh, qkv, probs, dy, dqkv)") ||
      !attention_shape(env, argv, &sh, &rows, &nprobs))
    return NULL;
  size_t d = (size_t)sh.heads * sh.dh;
  if (!float32_array(env, argv[3], "qkv", rows * 3 * d, &qkv) ||
      !float32_array(env, argv[4], "probs", nprobs, &probs) || !float32_array(env, argv[5], "dy", rows * d, &dy) ||
      !float32_array(env, argv[6], "dqkv", rows * 3 * d, &dqkv))
    return NULL;
  float* vt = scratch(env, ((size_t)sh.dh + sh.longest) * sh.longest);
  if (!vt) return NULL;
  attention_backward(&sh, qkv, probs, dy, dqkv, vt, vt + (size_t)sh.dh * sh.longest);
  free(vt);
  return NULL;
}

// lmDecodeAttention(b, heads, dh, pos, context, qkv, kcache, vcache, out)
static napi_value lm_decode_attention(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  int b, heads, dh, pos, context;
  float *qkv, *kcache, *vcache, *out;
  if (!arg_count(env, info, 9, argv,
                 "lmDecodeAttention takes (b, heads, dh, pos, context, qkv, kcache, vcache, out)") ||
      !dimension(env, argv[0], "b", &b) || !dimension(env, argv[1], "heads", &heads) ||
      !dimension(env, argv[2], "dh", &dh) || !dimension(env, argv[3], "pos", &pos) ||
      !dimension(env, argv[4], "context", &context))
    return NULL;
  if (pos >= context || context > 1 << 16 || (size_t)heads * dh > 1 << 20) {
    napi_throw_range_error(env, NULL, "lmDecodeAttention: pos must be below the context (at most 65536)");
    return NULL;
  }
  size_t d = (size_t)heads * dh;
  if (!float32_array(env, argv[5], "qkv", (size_t)b * 3 * d, &qkv) ||
      !float32_array(env, argv[6], "kcache", (size_t)b * context * d, &kcache) ||
      !float32_array(env, argv[7], "vcache", (size_t)b * context * d, &vcache) ||
      !float32_array(env, argv[8], "out", (size_t)b * d, &out))
    return NULL;
  float* p = scratch(env, (size_t)context);
  if (!p) return NULL;
  decode_attention(b, heads, dh, pos, context, NULL, qkv, kcache, vcache, out, p);
  free(p);
  return NULL;
}

/** The Float32Arrays of a JS array, each holding at least need[i] floats. */
static bool float32_list(napi_env env, napi_value list, const char* name, uint32_t count, const size_t* need,
                         float** out) {
  bool is_array;
  uint32_t length;
  char message[128];
  if (napi_is_array(env, list, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, list, &length) != napi_ok || length != count) {
    snprintf(message, sizeof message, "%s must be an array of %u Float32Arrays", name, count);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    char label[40];
    snprintf(label, sizeof label, "%.24s[%u]", name, i);
    if (napi_get_element(env, list, i, &item) != napi_ok || !float32_array(env, item, label, need[i], &out[i]))
      return false;
  }
  return true;
}

/** Each parameter's size in paramShapes' order. */
static void param_sizes(const StepShape* s, size_t* need) {
  const size_t d = s->d, m = s->hidden, v = s->vocab;
  need[0] = v * d;
  need[1] = (size_t)s->context * d;
  for (int l = 0; l < s->layers; l++) {
    size_t* q = need + 2 + (size_t)l * BLOCK_PARAMS;
    const size_t sizes[BLOCK_PARAMS] = {d, d, d * 3 * d, 3 * d, d * d, d, d, d, d * m, m, m * d, d};
    memcpy(q, sizes, sizeof sizes);
  }
  size_t* f = need + 2 + (size_t)s->layers * BLOCK_PARAMS;
  f[0] = d, f[1] = d, f[2] = d * v, f[3] = v;
}

/** rows: an Int32Array of 0..b row indices, ascending, each below b; its length is the packed count. */
static bool step_rows(napi_env env, napi_value v, int b, int* n, int32_t** rows) {
  size_t length;
  if (!int32_array(env, v, "rows", 0, rows) ||
      napi_get_typedarray_info(env, v, NULL, &length, NULL, NULL, NULL) != napi_ok)
    return false;
  bool ascending = length <= (size_t)b;
  for (size_t r = 0; ascending && r < length; r++)
    ascending = (*rows)[r] >= (r ? (*rows)[r - 1] + 1 : 0) && (*rows)[r] < b;
  if (!ascending) {
    napi_throw_range_error(env, NULL, "lmDecodeStep: rows must be ascending row indices below b");
    return false;
  }
  *n = (int)length;
  return true;
}

// lmDecodeStep(shape, ids, rows, params, kcaches, vcaches, scratch, logits): shape is an Int32Array
// [b, layers, d, heads, hidden, vocab, context, pos]; rows the sequences to decode (ascending, below b);
// params in paramShapes' order; kcaches and vcaches one per block (b x context x d each, as
// lmDecodeAttention keeps them); scratch holds at least b (9 d + 3 hidden + 1) + context floats;
// logits [b, vocab] is written, 0 in the rows not decoded.
static napi_value lm_decode_step(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int32_t *dims, *ids, *rows;
  int n;
  if (!arg_count(env, info, 8, argv,
                 "lmDecodeStep takes (shape, ids, rows, params, kcaches, vcaches, scratch, logits)") ||
      !int32_array(env, argv[0], "shape", 8, &dims))
    return NULL;
  StepShape s = {dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7]};
  if (s.b < 1 || s.layers < 1 || s.layers > MAX_LAYERS || s.d < 1 || s.heads < 1 || s.d % s.heads || s.d > 1 << 12 ||
      s.hidden < 1 || s.hidden > 1 << 16 || s.vocab < 1 || s.vocab > 1 << 20 || s.context < 1 ||
      s.context > 1 << 16 || s.pos < 0 || s.pos >= s.context || s.b > 1 << 20) {
    napi_throw_range_error(env, NULL,
                           "lmDecodeStep: shape must be [b, layers, d, heads, hidden, vocab, context, pos] with heads "
                           "dividing d and pos below the context");
    return NULL;
  }
  const uint32_t count = EDGE_PARAMS + (uint32_t)s.layers * BLOCK_PARAMS;
  size_t need[EDGE_PARAMS + MAX_LAYERS * BLOCK_PARAMS];
  float* params[EDGE_PARAMS + MAX_LAYERS * BLOCK_PARAMS];
  float *kc[MAX_LAYERS], *vc[MAX_LAYERS];
  size_t cache[MAX_LAYERS];
  for (int l = 0; l < s.layers; l++) cache[l] = (size_t)s.b * s.context * s.d;
  param_sizes(&s, need);
  float *scratch, *logits;
  if (!int32_array(env, argv[1], "ids", (size_t)s.b, &ids) || !step_rows(env, argv[2], s.b, &n, &rows) ||
      !float32_list(env, argv[3], "params", count, need, params) ||
      !float32_list(env, argv[4], "kcaches", (uint32_t)s.layers, cache, kc) ||
      !float32_list(env, argv[5], "vcaches", (uint32_t)s.layers, cache, vc) ||
      !float32_array(env, argv[6], "scratch", step_scratch(&s), &scratch) ||
      !float32_array(env, argv[7], "logits", (size_t)s.b * s.vocab, &logits))
    return NULL;
  for (int r = 0; r < n; r++)
    if (ids[rows[r]] < 0 || ids[rows[r]] >= s.vocab) {
      napi_throw_range_error(env, NULL, "lmDecodeStep: ids must be token ids below the vocabulary");
      return NULL;
    }
  decode_step(&s, n, rows, ids, params, kc, vc, scratch, logits);
  return NULL;
}

bool register_lm_kernels(napi_env env, napi_value exports, lm_sgemm sgemm) {
  step_sgemm = sgemm;
  return set_function(env, exports, "lmLayerNorm", lm_layer_norm) &&
         set_function(env, exports, "lmLayerNormGrad", lm_layer_norm_grad) &&
         set_function(env, exports, "lmGelu", lm_gelu) && set_function(env, exports, "lmGeluGrad", lm_gelu_grad) &&
         set_function(env, exports, "lmEmbed", lm_embed) && set_function(env, exports, "lmEmbedGrad", lm_embed_grad) &&
         set_function(env, exports, "lmAdam", lm_adam) &&
         set_function(env, exports, "lmCrossEntropy", lm_cross_entropy) &&
         set_function(env, exports, "lmCrossEntropyGrad", lm_cross_entropy_grad) &&
         set_function(env, exports, "lmDecodeAttention", lm_decode_attention) &&
         set_function(env, exports, "lmDecodeStep", lm_decode_step) &&
         set_function(env, exports, "lmAttention", lm_attention) &&
         set_function(env, exports, "lmAttentionGrad", lm_attention_grad);
}
