// sgemm from the platform's BLAS over Float32Arrays, in place: the arrays are views on the TF.js
// wasm heap, so the product is written straight into the output tensor, with no copies.
// Built against OpenBLAS (SUBLAB_OPENBLAS), Accelerate (SUBLAB_ACCELERATE), or neither: then only
// `blas: "none"` is exported and the engine keeps its wasm kernels.
#include "args.h"
#include "lm-kernels.h"

#if defined(SUBLAB_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define SUBLAB_BLAS_NAME "accelerate"
#elif defined(SUBLAB_OPENBLAS)
#include <cblas.h>
#define SUBLAB_BLAS_NAME "openblas"
#else
#define SUBLAB_BLAS_NAME "none"
#endif

static napi_value string_value(napi_env env, const char* s) {
  napi_value v;
  CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  return v;
}

#if defined(SUBLAB_ACCELERATE) || defined(SUBLAB_OPENBLAS)

/** The product every caller gets, the N-API sgemm and the LM kernels that chain products alike. */
static void blas_sgemm(bool transA, bool transB, int m, int n, int k, const float* a, const float* b, float* c,
                       bool accumulate) {
  if (m == 0 || n == 0) return;
  // BLAS wants leading dimensions of at least 1, even for an empty k.
  int lda = transA ? m : (k > 0 ? k : 1);
  int ldb = transB ? (k > 0 ? k : 1) : n;
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, n);
}

// sgemm(transA, transB, m, n, k, a, b, c, accumulate): c[m, n] = op(a) op(b) (+ c when accumulate),
// row-major; op(a) is [m, k] (a is [k, m] when transposed), op(b) is [k, n] (b is [n, k]).
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 9) {
    napi_throw_type_error(env, NULL, "sgemm takes (transA, transB, m, n, k, a, b, c, accumulate)");
    return NULL;
  }
  bool transA, transB, accumulate;
  int m, n, k;
  float *a, *b, *c;
  CHECK(napi_get_value_bool(env, argv[0], &transA));
  CHECK(napi_get_value_bool(env, argv[1], &transB));
  CHECK(napi_get_value_bool(env, argv[8], &accumulate));
  if (!dimension(env, argv[2], "m", &m) || !dimension(env, argv[3], "n", &n) ||
      !dimension(env, argv[4], "k", &k))
    return NULL;
  if (!float32_array(env, argv[5], "a", (size_t)m * k, &a) ||
      !float32_array(env, argv[6], "b", (size_t)k * n, &b) ||
      !float32_array(env, argv[7], "c", (size_t)m * n, &c))
    return NULL;
  blas_sgemm(transA, transB, m, n, k, a, b, c, accumulate);
  return NULL;
}

// setThreads(n) -> the thread count in effect. Accelerate is limited by VECLIB_MAXIMUM_THREADS,
// which the loader sets before this library loads.
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int threads = 1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1 || !dimension(env, argv[0], "threads", &threads)) return NULL;
#if defined(SUBLAB_OPENBLAS)
  if (threads > 0) openblas_set_num_threads(threads);
  threads = openblas_get_num_threads();
#endif
  napi_value result;
  CHECK(napi_create_int32(env, threads, &result));
  return result;
}

// config() -> how the library describes itself, e.g. "OpenBLAS 0.3.21 ... DYNAMIC_ARCH ... Haswell ...".
static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
#if defined(SUBLAB_OPENBLAS)
  return string_value(env, openblas_get_config());
#else
  return string_value(env, "Accelerate");
#endif
}
#endif

static napi_value init(napi_env env, napi_value exports) {
  napi_value name = string_value(env, SUBLAB_BLAS_NAME);
  if (name == NULL || napi_set_named_property(env, exports, "blas", name) != napi_ok) return NULL;
#if defined(SUBLAB_ACCELERATE) || defined(SUBLAB_OPENBLAS)
  if (!set_function(env, exports, "sgemm", sgemm) || !set_function(env, exports, "setThreads", set_threads) ||
      !set_function(env, exports, "config", config) || !register_lm_kernels(env, exports, blas_sgemm))
    return NULL;
#else
  (void)set_function;
  (void)register_lm_kernels;
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
