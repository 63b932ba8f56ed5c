#define _GNU_SOURCE
#include "send_file.h"
#include "napi_errors.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Each transfer runs on a thread of its own: pread(2) of a chunk into a buffer on the
 * thread's stack, send(2) of it to the socket, waiting in poll(2) while the socket's buffer
 * is full (the client reads slower than the page cache is read), until the client fails the
 * socket, or until it is cancelled through its eventfd. No read or write on the JS thread,
 * no thread-pool round trip per chunk, no Buffer, and no thread of libuv's pool held while a
 * slow client reads.
 *
 * Not sendfile(2): on loopback its zero copy hands the client's kernel cold page-cache pages
 * to copy from, and skopeo's CPU per 110 MB pull rose by more (+130 ms) than the server's
 * fell (-100 ms). Copied in cache-sized chunks, the bytes are still in the CPU's cache when
 * the client copies them out.
 *
 * The thread frees nothing: its fds (dups of the caller's, so the caller may close its own
 * at any time) are closed on the JS thread in the completion callback, and the job is freed
 * there or in the handle's finalizer, whichever runs last (both on the JS thread). So a
 * cancel never writes to a closed, or reused, fd.
 */

struct send_job {
  int sock, file, wake;
  int64_t offset, length, sent;
  int err;
  const char *step;
  bool done;     /* JS thread only: the completion callback ran (fds closed) */
  bool orphaned; /* JS thread only: the handle was finalized first, the callback frees */
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
};

/* Bytes per read and write: small enough to stay in the CPU's cache between the copies. */
#define SEND_CHUNK_BYTES (128 * 1024)

/*
 * Waits until the socket takes more bytes or the job is cancelled: 0 to go on, -1 with the
 * job's error set. POLLERR/POLLHUP on the socket: the next write reports the error.
 */
static int wait_writable(struct send_job *job) {
  struct pollfd fds[2] = {{.fd = job->sock, .events = POLLOUT}, {.fd = job->wake, .events = POLLIN}};
  if (poll(fds, 2, -1) < 0 && errno != EINTR) {
    job->err = errno, job->step = "poll";
    return -1;
  }
  if (fds[1].revents != 0) {
    job->err = ECANCELED, job->step = "send (cancelled)";
    return -1;
  }
  return 0;
}

static void send_by_copy(struct send_job *job) {
  /* On the thread's stack: glibc reuses a finished thread's stack, already faulted in. */
  char buffer[SEND_CHUNK_BYTES];
  off_t position = (off_t)job->offset;
  size_t have = 0, done = 0;
  while (job->sent < job->length) {
    if (done == have) {
      int64_t left = job->length - job->sent;
      ssize_t n = pread(job->file, buffer, (size_t)(left < SEND_CHUNK_BYTES ? left : SEND_CHUNK_BYTES), position);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        job->err = errno, job->step = "pread";
        return;
      }
      if (n == 0) {
        /* The file ended before the length the caller promised (it shrank). */
        job->err = ENODATA, job->step = "pread (the file ended early)";
        return;
      }
      position += n, have = (size_t)n, done = 0;
    }
    ssize_t w = send(job->sock, buffer + done, have - done, MSG_NOSIGNAL);
    if (w > 0) {
      done += (size_t)w, job->sent += w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN) {
      job->err = errno, job->step = "send";
      return;
    }
    if (wait_writable(job) != 0) return;
  }
}

static void *send_thread(void *arg) {
  struct send_job *job = arg;
  send_by_copy(job);
  /* The completion callback may free the job (its handle already finalized) at once. */
  napi_threadsafe_function tsfn = job->tsfn;
  napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

/* On the JS thread once the transfer ended: closes its fds, settles the promise. */
static void send_done(napi_env env, napi_value js_callback, void *context, void *data) {
  struct send_job *job = data;
  close(job->sock);
  close(job->file);
  close(job->wake);
  job->done = true;
  if (env != NULL) {
    if (job->err == 0) {
      napi_value sent;
      napi_create_int64(env, job->sent, &sent);
      napi_resolve_deferred(env, job->deferred, sent);
    } else {
      napi_reject_deferred(env, job->deferred, errno_error(env, job->err, job->step, NULL));
    }
  }
  if (job->orphaned) free(job);
}

static void send_job_finalize(napi_env env, void *data, void *hint) {
  struct send_job *job = data;
  if (job->done) free(job);
  else job->orphaned = true;
}

static int int64_arg(napi_env env, napi_value value, const char *what, int64_t *out) {
  if (napi_get_value_int64(env, value, out) != napi_ok || *out < 0) {
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" argument must be a number >= 0", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return -1;
  }
  return 0;
}

napi_value js_send_file(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "sendFile(socketFd, fileFd, offset, length)");
    return NULL;
  }
  int64_t sock, file, offset, length;
  if (int64_arg(env, argv[0], "socketFd", &sock) != 0 || int64_arg(env, argv[1], "fileFd", &file) != 0 || int64_arg(env, argv[2], "offset", &offset) != 0 ||
      int64_arg(env, argv[3], "length", &length) != 0) {
    return NULL;
  }
  struct send_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  job->sock = job->file = job->wake = -1;
  job->offset = offset, job->length = length;
  struct stat st;
  int setup_err = 0;
  const char *setup_step = NULL;
  if ((job->sock = fcntl((int)sock, F_DUPFD_CLOEXEC, 3)) < 0) setup_err = errno, setup_step = "dup socketFd";
  else if ((job->file = fcntl((int)file, F_DUPFD_CLOEXEC, 3)) < 0) setup_err = errno, setup_step = "dup fileFd";
  else if (fstat(job->sock, &st) != 0) setup_err = errno, setup_step = "fstat socketFd";
  else if (!S_ISSOCK(st.st_mode)) setup_err = EINVAL, setup_step = "sendFile (socketFd is not a socket)";
  else if (fstat(job->file, &st) != 0) setup_err = errno, setup_step = "fstat fileFd";
  else if (!S_ISREG(st.st_mode)) setup_err = EINVAL, setup_step = "sendFile (fileFd is not a regular file)";
  else if ((job->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) setup_err = errno, setup_step = "eventfd";
  napi_value promise, handle, name, result;
  napi_create_promise(env, &job->deferred, &promise);
  if (setup_err == 0) {
    napi_create_string_utf8(env, "berth:sendFile", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, send_done, &job->tsfn) != napi_ok) {
      setup_err = ENOMEM, setup_step = "napi_create_threadsafe_function";
    } else {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&attr, SEND_CHUNK_BYTES + 64 * 1024);
      pthread_t thread;
      int err = pthread_create(&thread, &attr, send_thread, job);
      pthread_attr_destroy(&attr);
      if (err != 0) {
        napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
        setup_err = err, setup_step = "pthread_create";
      }
    }
  }
  if (setup_err != 0) {
    /* Nothing started: settle now, as the completion callback would. (Once the thread runs,
     * only it sets job->err, and only the completion callback reads it.) */
    if (job->sock >= 0) close(job->sock);
    if (job->file >= 0) close(job->file);
    if (job->wake >= 0) close(job->wake);
    job->sock = job->file = job->wake = -1;
    job->done = true;
    napi_reject_deferred(env, job->deferred, errno_error(env, setup_err, setup_step, NULL));
  }
  napi_create_external(env, job, send_job_finalize, NULL, &handle);
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, promise);
  napi_set_element(env, result, 1, handle);
  return result;
}

napi_value js_send_file_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], undefined;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_undefined(env, &undefined);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sendFileCancel(handle): a handle from sendFile");
    return NULL;
  }
  struct send_job *job = data;
  if (!job->done) {
    uint64_t one = 1;
    /* The eventfd stays open until the completion callback, which runs on this thread. */
    ssize_t n = write(job->wake, &one, sizeof one);
    (void)n;
  }
  return undefined;
}
