// CUDA's execution model on the host, so tocha's kernels (core/src/tocha/core/cuda/kernels)
// run without a GPU: a test compiles a .cu file with g++ after this header and launches its
// entry points through ctypes (host_kernels.py).
//
// Every CUDA thread of a block is an OS thread, so the code the GPU runs is the code that runs
// here, barriers and all: __syncthreads is a barrier over the block's threads, a warp's
// shuffles and votes exchange values through a per-warp slot array between two barriers over
// its 32 threads, atomics are std::atomic_ref. Blocks run one after another, which makes
// __shared__ variables (function-local statics here) private to the running block, as on the
// GPU. A thread that returns drops out of its barriers, as an exited GPU thread does.
//
// Only the built-ins tocha's kernels use are defined: a kernel using another fails to build.
//
// What this cannot show: timing, races that only a GPU's scheduling exposes, memory-model
// subtleties beyond what the barriers order, and bank conflicts.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <math.h>  // the float overloads in the global namespace: exp(float) stays in float

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

// the CUDA headers define the execution-space keywords as attributes g++ warns about
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#ifndef __restrict__
#define __restrict__ __restrict
#endif

namespace tocha_host {

struct Idx {
  unsigned x, y, z;
};

struct Warp {
  std::unique_ptr<std::barrier<>> bar;
  alignas(8) unsigned char slot[32][8];
};

inline thread_local Idx thread_idx{0, 0, 0}, block_idx{0, 0, 0};
inline Idx block_dim{1, 1, 1}, grid_dim{1, 1, 1};
inline thread_local Warp* warp = nullptr;
inline thread_local int lane = 0;
inline std::barrier<>* block_barrier = nullptr;

// `v` of every lane of the warp, then lane `src`'s value (two barriers: every lane has
// written before any reads, and every lane has read before the next exchange writes)
template <typename T>
T exchange(T v, int src) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  std::memcpy(warp->slot[lane], &v, sizeof(T));
  warp->bar->arrive_and_wait();
  T r;
  std::memcpy(&r, warp->slot[src], sizeof(T));
  warp->bar->arrive_and_wait();
  return r;
}

// run `body` as every thread of every block of the launch (blocks in order)
template <typename F>
void launch(Idx grid, Idx block, F&& body) {
  grid_dim = grid;
  block_dim = block;
  const unsigned n = block.x * block.y * block.z;
  const unsigned nwarps = (n + 31) / 32;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        std::barrier<> bb(n);
        block_barrier = &bb;
        std::vector<Warp> warps(nwarps);
        for (unsigned w = 0; w < nwarps; ++w) {
          const unsigned lanes = n - 32 * w < 32 ? n - 32 * w : 32;
          warps[w].bar = std::make_unique<std::barrier<>>(lanes);
        }
        std::vector<std::thread> threads;
        threads.reserve(n);
        for (unsigned t = 0; t < n; ++t)
          threads.emplace_back([&, t] {
            thread_idx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            block_idx = {bx, by, bz};
            warp = &warps[t / 32];
            lane = int(t % 32);
            body();
            warp->bar->arrive_and_drop();
            block_barrier->arrive_and_drop();
          });
        for (auto& th : threads) th.join();
      }
}

// f(*(A0*)args[0], *(A1*)args[1], ...): the kernel called with the launcher's arguments
template <typename... A, std::size_t... I>
void call(void (*f)(A...), void** args, std::index_sequence<I...>) {
  f(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

template <typename... A>
void call(void (*f)(A...), void** args) {
  call(f, args, std::index_sequence_for<A...>{});
}

// the byte size of each parameter, so the test can check what the launcher passes
template <typename... A>
int param_sizes(void (*)(A...), long long* out) {
  const long long sizes[] = {0, static_cast<long long>(sizeof(std::remove_cv_t<A>))...};
  for (std::size_t i = 0; i < sizeof...(A); ++i) out[i] = sizes[i + 1];
  return int(sizeof...(A));
}

}  // namespace tocha_host

#define threadIdx (tocha_host::thread_idx)
#define blockIdx (tocha_host::block_idx)
#define blockDim (tocha_host::block_dim)
#define gridDim (tocha_host::grid_dim)

inline void __syncthreads() { tocha_host::block_barrier->arrive_and_wait(); }

template <typename T>
T __shfl_sync(unsigned, T v, int src, int width = 32) {
  const int l = tocha_host::lane;
  return tocha_host::exchange(v, (l / width) * width + src % width);
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int l = tocha_host::lane, s = l ^ mask;
  return tocha_host::exchange(v, s >= (l / width + 1) * width ? l : s);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int l = tocha_host::lane;
  return tocha_host::exchange(v, l % width + int(delta) >= width ? l : l + int(delta));
}

template <typename T>
T atomicAdd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_add(v);
}
template <typename T>
T atomicCAS(T* p, T expected, T desired) {
  std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired);
  return expected;  // the old value whether or not it was swapped
}

template <typename To, typename From>
inline To tocha_bits(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To r;
  std::memcpy(&r, &v, sizeof(To));
  return r;
}
inline float __int_as_float(int v) { return tocha_bits<float>(v); }
inline float __uint_as_float(unsigned v) { return tocha_bits<float>(v); }
inline int __float_as_int(float v) { return tocha_bits<int>(v); }
inline double __longlong_as_double(long long v) { return tocha_bits<double>(v); }
inline long long __double_as_longlong(double v) { return tocha_bits<long long>(v); }
inline float __expf(float x) { return std::exp(x); }
// CUDA's integer min / max overloads (device functions in the global namespace)
#define TOCHA_HOST_MINMAX(T)                              \
  inline T min(T a, T b) { return b < a ? b : a; }        \
  inline T max(T a, T b) { return a < b ? b : a; }
TOCHA_HOST_MINMAX(int)
TOCHA_HOST_MINMAX(unsigned)
TOCHA_HOST_MINMAX(long long)
TOCHA_HOST_MINMAX(unsigned long long)
#undef TOCHA_HOST_MINMAX
