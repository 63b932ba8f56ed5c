#ifndef BERTH_BLOB_HASH_H
#define BERTH_BLOB_HASH_H

#include <node_api.h>

/* Adds sha256New, sha256Update, sha256Hex, appendHashed and sha256UpdateAsync to the addon's exports (blob_hash.c). */
void blob_hash_define(napi_env env, napi_value exports);

#endif
