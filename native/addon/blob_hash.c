/*
 * blob_hash: a content ingest's SHA-256 as a plain state buffer, and its write+hash step on
 * the thread pool. A pull's ingest write and the digest of its ~100 MB of compressed bytes
 * otherwise run on the daemon's JS thread (the hash alone ~150 ms per big pull). The state is
 * OpenSSL's SHA256_CTX (Node's own OpenSSL, whose symbols the node binary exports), held in a
 * Buffer the caller owns: it can be copied, so an interrupted ingest keeps it for its resume.
 */
#define _GNU_SOURCE
#define OPENSSL_SUPPRESS_DEPRECATED
#include "blob_hash.h"
#include "napi_errors.h"

#include <errno.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

/* The state argument: a Buffer of exactly sizeof(SHA256_CTX) bytes made by sha256New. */
static SHA256_CTX *arg_state(napi_env env, napi_value value) {
  void *data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, value, &data, &length) != napi_ok || length != sizeof(SHA256_CTX)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"state\" argument must be a SHA-256 state from sha256New()");
    return NULL;
  }
  return data;
}

/* A Uint8Array's (or Buffer's) bytes; -1 with a TypeError pending otherwise. */
static int arg_bytes(napi_env env, napi_value value, const char *what, void **data, size_t *length) {
  bool is_typedarray = false;
  napi_typedarray_type type;
  napi_value arraybuffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, value, &type, length, data, &arraybuffer, &offset) != napi_ok || type != napi_uint8_array) {
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" argument must be a Uint8Array", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return -1;
  }
  if (*length == 0) *data = NULL;
  return 0;
}

/* sha256New(): a fresh state. */
static napi_value js_sha256_new(napi_env env, napi_callback_info info) {
  void *data = NULL;
  napi_value buffer;
  if (napi_create_buffer(env, sizeof(SHA256_CTX), &data, &buffer) != napi_ok) return NULL;
  SHA256_Init(data);
  return buffer;
}

/* sha256Update(state, bytes): on the calling thread (small writes, a resume's re-read). */
static napi_value js_sha256_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  SHA256_CTX *ctx = arg_state(env, argv[0]);
  void *data;
  size_t length;
  if (ctx == NULL || arg_bytes(env, argv[1], "bytes", &data, &length) != 0) return NULL;
  if (length > 0) SHA256_Update(ctx, data, length);
  return NULL;
}

/* sha256Hex(state): the digest of what the state has seen, as hex; the state goes on unchanged. */
static napi_value js_sha256_hex(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  SHA256_CTX *ctx = arg_state(env, argv[0]);
  if (ctx == NULL) return NULL;
  SHA256_CTX copy = *ctx;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &copy);
  char hex[SHA256_DIGEST_LENGTH * 2 + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) snprintf(hex + i * 2, 3, "%02x", md[i]);
  napi_value result;
  napi_create_string_utf8(env, hex, SHA256_DIGEST_LENGTH * 2, &result);
  return result;
}

/* Queues the write (fd >= 0) and hash of argv = [fd, chunks, state]; a promise of the byte count. */
static napi_value queue_append(napi_env env, int64_t fd, napi_value *argv);

struct append_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref keep; /* the state and the chunks, alive until the work is done */
  int fd;
  SHA256_CTX *ctx;
  struct iovec *iov;
  size_t count;
  size_t total;
  int err;
};

/*
 * Bytes of an ingest between starts of its disk write. The commit fsyncs the data file
 * (containerd's guarantee): written back only then, a 55 MB layer's commit waited ~40 ms on
 * the disk with nothing else to do. Started a window at a time as the data arrives, the
 * write overlaps the transfer, and the fsync waits for the last window only.
 */
#define WRITEBACK_WINDOW ((off_t)4 << 20)

/*
 * After an append of `written` bytes ending at the fd's position: starts (does not wait for)
 * the disk write of each window the append completed. Advisory: errors are the fsync's to report.
 */
static void start_writeback(int fd, size_t written) {
  off_t end = lseek(fd, 0, SEEK_CUR);
  if (end < 0 || (off_t)written > end) return;
  off_t from = (end - (off_t)written) / WRITEBACK_WINDOW * WRITEBACK_WINDOW;
  off_t upto = end / WRITEBACK_WINDOW * WRITEBACK_WINDOW;
  if (upto > from) sync_file_range(fd, from, upto - from, SYNC_FILE_RANGE_WRITE);
}

/* On a pool thread: every byte written (short writes continued), its disk write started, then hashed, in order. */
static void append_execute(napi_env env, void *data) {
  struct append_work *w = data;
  size_t first = w->fd < 0 ? w->count : 0; /* no fd: hash only */
  size_t skip = 0; /* bytes of iov[first] written already */
  while (first < w->count) {
    struct iovec local[IOV_MAX];
    size_t n = 0;
    for (size_t i = first; i < w->count && n < IOV_MAX; i++, n++) {
      local[n] = w->iov[i];
      if (i == first) {
        local[n].iov_base = (char *)local[n].iov_base + skip;
        local[n].iov_len -= skip;
      }
    }
    ssize_t written = writev(w->fd, local, (int)n);
    if (written < 0) {
      if (errno == EINTR) continue;
      w->err = errno;
      return;
    }
    size_t left = (size_t)written;
    while (first < w->count && left >= w->iov[first].iov_len - skip) {
      left -= w->iov[first].iov_len - skip;
      first++;
      skip = 0;
    }
    skip += left;
  }
  if (w->fd >= 0) start_writeback(w->fd, w->total);
  for (size_t i = 0; i < w->count; i++) {
    if (w->iov[i].iov_len > 0) SHA256_Update(w->ctx, w->iov[i].iov_base, w->iov[i].iov_len);
  }
}

static void append_complete(napi_env env, napi_status status, void *data) {
  struct append_work *w = data;
  if (status == napi_ok && w->err == 0) {
    napi_value total;
    napi_create_double(env, (double)w->total, &total);
    napi_resolve_deferred(env, w->deferred, total);
  } else {
    napi_reject_deferred(env, w->deferred, errno_error(env, w->err != 0 ? w->err : EIO, "write", NULL));
  }
  napi_delete_reference(env, w->keep);
  napi_delete_async_work(env, w->work);
  free(w->iov);
  free(w);
}

/*
 * appendHashed(fd, chunks, state): writes the chunks at the fd's position (an O_APPEND
 * ingest) and then adds them to the state, on the thread pool; resolves with the byte
 * count. On a failed write the state is unchanged (the file may hold part of the chunks:
 * the caller truncates it back). Neither the chunks nor the state may change meanwhile.
 */
static napi_value js_append_hashed(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  int64_t fd = -1;
  if (napi_get_value_int64(env, argv[0], &fd) != napi_ok || fd < 0 || fd > INT_MAX) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"fd\" argument must be a file descriptor");
    return NULL;
  }
  return queue_append(env, fd, argv);
}

/*
 * sha256UpdateAsync(state, chunks): adds the chunks to the state on the thread pool (a
 * layer's diff ID, off the extraction worker's thread); resolves with their byte count.
 * Updates of one state must be chained: each waits for the one before.
 */
static napi_value js_sha256_update_async(napi_env env, napi_callback_info info) {
  napi_value given[2];
  if (get_args(env, info, 2, given) != 0) return NULL;
  napi_value argv[3] = {NULL, given[1], given[0]};
  return queue_append(env, -1, argv);
}

static napi_value queue_append(napi_env env, int64_t fd, napi_value *argv) {
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &count) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"chunks\" argument must be an array of Uint8Arrays");
    return NULL;
  }
  SHA256_CTX *ctx = arg_state(env, argv[2]);
  if (ctx == NULL) return NULL;
  struct append_work *w = calloc(1, sizeof *w);
  struct iovec *iov = calloc(count > 0 ? count : 1, sizeof *iov);
  if (w == NULL || iov == NULL) {
    free(w);
    free(iov);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  w->fd = (int)fd;
  w->ctx = ctx;
  w->iov = iov;
  w->count = count;
  /* The state and every chunk, held by an array of our own until the work is done (the caller's array may change meanwhile). */
  napi_value keep;
  napi_create_array_with_length(env, count + 1, &keep);
  napi_set_element(env, keep, 0, argv[2]);
  for (uint32_t i = 0; i < count; i++) {
    napi_value chunk;
    void *data;
    size_t length;
    if (napi_get_element(env, argv[1], i, &chunk) != napi_ok || arg_bytes(env, chunk, "chunks[i]", &data, &length) != 0) {
      free(iov);
      free(w);
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = length;
    w->total += length;
    napi_set_element(env, keep, i + 1, chunk);
  }
  napi_create_reference(env, keep, 1, &w->keep);
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "berth:appendHashed", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, append_execute, append_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

void blob_hash_define(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"sha256New", NULL, js_sha256_new, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Update", NULL, js_sha256_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Hex", NULL, js_sha256_hex, NULL, NULL, NULL, napi_enumerable, NULL},
      {"appendHashed", NULL, js_append_hashed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256UpdateAsync", NULL, js_sha256_update_async, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
}
