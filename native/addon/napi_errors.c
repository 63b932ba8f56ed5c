/* Errors and arguments shaped as Node's own: shared by every part of the addon. */
#define _GNU_SOURCE
#include "napi_errors.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

void throw_errno(napi_env env, int err, const char *syscall_name, const char *path) {
  const char *name = strerrorname_np(err);
  char code[32];
  snprintf(code, sizeof code, "%s", name ? name : "EUNKNOWN");
  /* Node's (libuv's) messages are lowercase: "no such file or directory". */
  char desc[128];
  snprintf(desc, sizeof desc, "%s", strerror(err));
  if (desc[0] != '\0' && !(desc[1] != '\0' && isupper((unsigned char)desc[1]))) desc[0] = (char)tolower((unsigned char)desc[0]);
  char message[PATH_MAX + 256];
  if (path != NULL) {
    snprintf(message, sizeof message, "%s: %s, %s '%s'", code, desc, syscall_name, path);
  } else {
    snprintf(message, sizeof message, "%s: %s, %s", code, desc, syscall_name);
  }
  napi_value code_value, message_value, error, errno_value, syscall_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  if (path != NULL) {
    napi_value path_value;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_value);
    napi_set_named_property(env, error, "path", path_value);
  }
  napi_throw(env, error);
}

/* An Error like throw_errno's (code, errno, syscall, path), not thrown. */
napi_value errno_error(napi_env env, int err, const char *syscall_name, const char *path) {
  napi_value error = NULL;
  throw_errno(env, err, syscall_name, path);
  napi_get_and_clear_last_exception(env, &error);
  return error;
}

int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t argc = expected;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < expected) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
    return -1;
  }
  return 0;
}
