// Argument checks shared by the addon's functions: every array is a view on memory the caller owns
// (the TF.js wasm heap), so each size is checked before a kernel writes through it.
#ifndef SUBLAB_ARGS_H
#define SUBLAB_ARGS_H

#define NAPI_VERSION 6
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) return NULL;                                                            \
  } while (0)

static inline bool arg_count(napi_env env, napi_callback_info info, size_t want, napi_value* argv,
                             const char* usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc != want) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

static inline bool dimension(napi_env env, napi_value v, const char* name, int* out) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < 0) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a non-negative integer", name);
    napi_throw_range_error(env, NULL, message);
    return false;
  }
  return true;
}

static inline bool typed_array(napi_env env, napi_value v, const char* name, napi_typedarray_type want,
                               const char* kind, const char* unit, size_t need, void** data) {
  napi_typedarray_type type;
  size_t n;
  void* ptr;
  char message[128];
  if (napi_get_typedarray_info(env, v, &type, &n, &ptr, NULL, NULL) != napi_ok || type != want) {
    snprintf(message, sizeof message, "%s must be a %s", name, kind);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  if (n < need) {
    snprintf(message, sizeof message, "%s holds %zu %s, the shapes need %zu", name, n, unit, need);
    napi_throw_range_error(env, NULL, message);
    return false;
  }
  *data = ptr;
  return true;
}

static inline bool float32_array(napi_env env, napi_value v, const char* name, size_t need, float** data) {
  return typed_array(env, v, name, napi_float32_array, "Float32Array", "floats", need, (void**)data);
}

static inline bool int32_array(napi_env env, napi_value v, const char* name, size_t need, int32_t** data) {
  return typed_array(env, v, name, napi_int32_array, "Int32Array", "integers", need, (void**)data);
}

static inline bool set_function(napi_env env, napi_value exports, const char* name, napi_callback f) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, f, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

#endif
