#ifndef BERTH_SEND_FILE_H
#define BERTH_SEND_FILE_H

#include <node_api.h>

/*
 * sendFile(socketFd, fileFd, offset, length): sends a file range to a connected,
 * non-blocking socket on a thread of its own (the registry server's blob GETs). Returns
 * [promise of the bytes sent, handle]; sendFileCancel(handle) stops it (the promise then
 * rejects with ECANCELED). See send_file.c.
 */
napi_value js_send_file(napi_env env, napi_callback_info info);
napi_value js_send_file_cancel(napi_env env, napi_callback_info info);

#endif
