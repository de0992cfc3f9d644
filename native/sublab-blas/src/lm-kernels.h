// The language model's fused kernels (lm-kernels.c), exported beside sgemm.
#ifndef SUBLAB_LM_KERNELS_H
#define SUBLAB_LM_KERNELS_H
#include <node_api.h>
#include <stdbool.h>

/**
 * c[m, n] = op(a) op(b) (+ c when accumulate), row-major: the BLAS product as the addon's sgemm makes
 * it, for kernels that chain products in C (a whole decoding step).
 */
typedef void (*lm_sgemm)(bool trans_a, bool trans_b, int m, int n, int k, const float* a, const float* b, float* c,
                         bool accumulate);

bool register_lm_kernels(napi_env env, napi_value exports, lm_sgemm sgemm);

#endif
