// The language model's fused kernels (lm-kernels.c), exported beside sgemm.
#ifndef SUBLAB_LM_KERNELS_H
#define SUBLAB_LM_KERNELS_H
#include <node_api.h>
#include <stdbool.h>

bool register_lm_kernels(napi_env env, napi_value exports);

#endif
