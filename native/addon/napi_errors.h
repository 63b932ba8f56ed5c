#ifndef BERTH_NAPI_ERRORS_H
#define BERTH_NAPI_ERRORS_H

#include <node_api.h>

/* Throws an Error as Node's fs calls do: code (ENOENT), "code: description, syscall 'path'", errno, syscall, path (NULL: none). */
void throw_errno(napi_env env, int err, const char *syscall_name, const char *path);

/* The same Error, returned rather than thrown (to reject a promise). */
napi_value errno_error(napi_env env, int err, const char *syscall_name, const char *path);

/* Reads `expected` arguments into argv; -1 with a TypeError (ERR_MISSING_ARGS) pending when fewer came. */
int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv);

#endif
