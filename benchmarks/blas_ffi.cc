// An XLA FFI handler for bench_step_product.py: C = A B by OpenBLAS's sgemm, so that a
// compiled JAX loop can call the BLAS directly (no Python, no host round trip). Row-major float32.
// The sgemm comes from numpy's bundled OpenBLAS, found at run time (passage_load_blas), so nothing
// here links against a BLAS. Built by the benchmark with g++ against jaxlib's FFI headers.
#include <dlfcn.h>

#include <cstdint>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

// cblas_sgemm of an ILP64 OpenBLAS: (order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
typedef void (*Sgemm)(int, int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                      int64_t, float, float*, int64_t);
static Sgemm sgemm = nullptr;
enum { kRowMajor = 101, kNoTrans = 111 };

extern "C" int passage_load_blas(const char* path, const char* symbol) {
  void* library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return 1;
  sgemm = reinterpret_cast<Sgemm>(dlsym(library, symbol));
  return sgemm == nullptr ? 2 : 0;
}

static ffi::Error Matmul(ffi::Buffer<ffi::F32> a, ffi::Buffer<ffi::F32> b, ffi::ResultBuffer<ffi::F32> c) {
  auto da = a.dimensions(), db = b.dimensions();
  if (da.size() != 2 || db.size() != 2 || da[1] != db[0]) {
    return ffi::Error::InvalidArgument("passage_matmul takes (m, k) and (k, n) arrays");
  }
  int64_t m = da[0], k = da[1], n = db[1];
  sgemm(kRowMajor, kNoTrans, kNoTrans, m, n, k, 1.0f, a.typed_data(), k, b.typed_data(), n, 0.0f, c->typed_data(), n);
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(PassageMatmul, Matmul,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());
