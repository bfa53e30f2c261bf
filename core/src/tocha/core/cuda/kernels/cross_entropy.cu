// cross_entropy of (rows, cols) logits against class indices, forward and backward, with
// class weights, ignore_index and label smoothing (tocha.core.cuda._cross_entropy launches them;
// the per-row weights, the ignore mask and the reduction are prepared and finished there).
//
// Launch layout as softmax.cu: block (tx, ty), tx threads per row, ty rows per block, rows
// past the end join the reductions with no columns; chunks of V elements per vector load.
//
// Forward, per row i with target t_i (already 0 for ignored rows), kept-row weight wt_i,
// v_i = 1 for kept rows (0 if ignored), class weights wf (or 1), W = sum(wf), e the smoothing:
//   lse_i  = log(sum_c exp(x_ic))                        (one pass, online max)
//   loss_i = (1 - e) * (lse_i - x_it) * wt_i + (e / C) * (W * lse_i - sum_c wf_c x_ic) * v_i
// Backward (s_i the upstream scale), elementwise:
//   gx_ic = sa_i * exp(x_ic - lse_i) - [c == t_i] * hot_i - sm_i * wf_c
//   sa_i = s_i ((1 - e) wt_i + (e / C) W v_i),  hot_i = s_i (1 - e) wt_i,  sm_i = s_i (e / C) v_i

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

#include "rows.cuh"

template <typename T, int V>
__device__ void ce_fwd(const T* __restrict__ x, const long long* __restrict__ tgt,
                       const typename Num<T>::acc* __restrict__ wt,
                       const typename Num<T>::acc* __restrict__ keep,
                       const typename Num<T>::acc* __restrict__ wf,
                       const typename Num<T>::acc* __restrict__ big_w,
                       typename Num<T>::acc* __restrict__ loss,
                       typename Num<T>::acc* __restrict__ lse_out, long long rows, long long cols,
                       typename Num<T>::acc one_minus_e, typename Num<T>::acc e_over_c, int has_w,
                       int smooth) {
  typedef typename Num<T>::acc A;
  typedef Vec<T, V> VT;
  const long long row = row_index();
  const bool live = row < rows;
  const long long nch = live ? cols / V : 0;
  const long long base = live ? row * cols : 0;
  const VT* xr = reinterpret_cast<const VT*>(x + base);
  const int tid = threadIdx.x, nt = blockDim.x;
  A m = neg_inf<A>(), s = A(0), xs = A(0);  // xs: sum of wf_c * x_c, for the smoothing
  for (long long c = tid; c < nch; c += nt) {
    const VT p = xr[c];
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const A a = Num<T>::load(p.v[j]);
      push(m, s, a);
      if (smooth) xs += has_w ? wf[c * V + j] * a : a;
    }
  }
  row_max_sum(m, s);
  if (smooth) xs = row_sum(xs);  // smooth is the same for the whole block
  if (live && tid == 0) {
    const A lse = m + lg(s);
    const A xt = Num<T>::load(x[base + tgt[row]]);
    A l = (lse - xt) * wt[row];
    if (smooth) l = one_minus_e * l + e_over_c * ((big_w[0] * lse - xs) * keep[row]);
    loss[row] = l;
    lse_out[row] = lse;
  }
}

template <typename T, int V>
__device__ void ce_bwd(const T* __restrict__ x, const long long* __restrict__ tgt,
                       const typename Num<T>::acc* __restrict__ lse,
                       const typename Num<T>::acc* __restrict__ sa,
                       const typename Num<T>::acc* __restrict__ hot,
                       const typename Num<T>::acc* __restrict__ sm,
                       const typename Num<T>::acc* __restrict__ wf, T* __restrict__ gx,
                       long long rows, long long cols, int has_w, int smooth) {
  typedef typename Num<T>::acc A;
  typedef Vec<T, V> VT;
  const long long row = row_index();
  if (row >= rows) return;  // no block reduction here: a row's threads may leave
  const long long nch = cols / V;
  const long long base = row * cols;
  const VT* xr = reinterpret_cast<const VT*>(x + base);
  VT* gr = reinterpret_cast<VT*>(gx + base);
  const A l = lse[row], a = sa[row], h = hot[row], b = smooth ? sm[row] : A(0);
  const long long t = tgt[row];
  for (long long c = threadIdx.x; c < nch; c += blockDim.x) {
    const VT p = xr[c];
    VT q;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const long long col = c * V + j;
      A d = a * ex(Num<T>::load(p.v[j]) - l);
      if (col == t) d -= h;
      if (smooth) d -= has_w ? b * wf[col] : b;
      q.v[j] = Num<T>::store(d);
    }
    gr[c] = q;
  }
}

}  // namespace

// Entry points: cross_entropy_{fwd,bwd}_<dtype>_v<V>, V the elements per vector load.
// wf may be any pointer when has_w is 0 (never read), sm when smooth is 0; big_w (W) is one
// element on the device, read only when smooth is set.
#define TOCHA_CE(T, SUF, V)                                                                   \
  extern "C" __global__ void cross_entropy_fwd_##SUF##_v##V(                                 \
      const T* x, const long long* tgt, const Num<T>::acc* wt, const Num<T>::acc* keep,       \
      const Num<T>::acc* wf, const Num<T>::acc* big_w, Num<T>::acc* loss, Num<T>::acc* lse,   \
      long long rows, long long cols, Num<T>::acc one_minus_e, Num<T>::acc e_over_c,          \
      int has_w, int smooth) {                                                                \
    ce_fwd<T, V>(x, tgt, wt, keep, wf, big_w, loss, lse, rows, cols, one_minus_e, e_over_c,   \
                 has_w, smooth);                                                              \
  }                                                                                           \
  extern "C" __global__ void cross_entropy_bwd_##SUF##_v##V(                                 \
      const T* x, const long long* tgt, const Num<T>::acc* lse, const Num<T>::acc* sa,        \
      const Num<T>::acc* hot, const Num<T>::acc* sm, const Num<T>::acc* wf, T* gx,            \
      long long rows, long long cols, int has_w, int smooth) {                                \
    ce_bwd<T, V>(x, tgt, lse, sa, hot, sm, wf, gx, rows, cols, has_w, smooth);                \
  }

TOCHA_CE(float, f32, 1)
TOCHA_CE(float, f32, 4)
TOCHA_CE(double, f64, 1)
TOCHA_CE(double, f64, 2)
TOCHA_CE(__half, f16, 1)
TOCHA_CE(__half, f16, 8)
TOCHA_CE(__nv_bfloat16, bf16, 1)
TOCHA_CE(__nv_bfloat16, bf16, 8)
