#define _GNU_SOURCE
#include "send_file.h"

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
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Each transfer runs on a thread of its own: sendfile(2) until the range is sent, waiting in
 * poll(2) while the socket's buffer is full (the client reads slower than the page cache is
 * read), until the client fails the socket, or until it is cancelled through its eventfd.
 * The kernel hands page-cache pages to the socket: no copy into the process and back, no
 * read on the JS thread, no thread-pool round trip per chunk, and no thread of libuv's pool
 * held while a slow client reads.
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

static void *send_thread(void *arg) {
  struct send_job *job = arg;
  off_t position = (off_t)job->offset;
  while (job->sent < job->length) {
    int64_t left = job->length - job->sent;
    ssize_t n = sendfile(job->sock, job->file, &position, (size_t)(left > (1 << 30) ? (1 << 30) : left));
    if (n > 0) {
      job->sent += n;
      continue;
    }
    if (n == 0) {
      /* The file ended before the length the caller promised (it shrank). */
      job->err = ENODATA, job->step = "sendfile (the file ended early)";
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      job->err = errno, job->step = "sendfile";
      break;
    }
    struct pollfd fds[2] = {{.fd = job->sock, .events = POLLOUT}, {.fd = job->wake, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      job->err = errno, job->step = "poll";
      break;
    }
    if (fds[1].revents != 0) {
      job->err = ECANCELED, job->step = "sendfile (cancelled)";
      break;
    }
    /* POLLERR/POLLHUP on the socket: the next sendfile reports the error. */
  }
  napi_call_threadsafe_function(job->tsfn, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(job->tsfn, napi_tsfn_release);
  return NULL;
}

/* An Error with Node's fs-style code, errno and syscall, not thrown. */
static napi_value send_error(napi_env env, int err, const char *step) {
  const char *code = err == EPIPE ? "EPIPE" : err == ECONNRESET ? "ECONNRESET" : err == ECANCELED ? "ECANCELED" : err == ENODATA ? "ENODATA" : err == EBADF ? "EBADF" : err == EINVAL ? "EINVAL" : err == ENOMEM ? "ENOMEM" : err == EAGAIN ? "EAGAIN" : "EIO";
  char message[256];
  snprintf(message, sizeof message, "%s, %s: %s", code, step, strerror(err));
  napi_value error, code_value, message_value, errno_value, syscall_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
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
      napi_reject_deferred(env, job->deferred, send_error(env, job->err, job->step));
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
  if ((job->sock = fcntl((int)sock, F_DUPFD_CLOEXEC, 3)) < 0) job->err = errno, job->step = "dup socketFd";
  else if ((job->file = fcntl((int)file, F_DUPFD_CLOEXEC, 3)) < 0) job->err = errno, job->step = "dup fileFd";
  else if (fstat(job->sock, &st) != 0) job->err = errno, job->step = "fstat socketFd";
  else if (!S_ISSOCK(st.st_mode)) job->err = EINVAL, job->step = "sendFile (socketFd is not a socket)";
  else if (fstat(job->file, &st) != 0) job->err = errno, job->step = "fstat fileFd";
  else if (!S_ISREG(st.st_mode)) job->err = EINVAL, job->step = "sendFile (fileFd is not a regular file)";
  else if ((job->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) job->err = errno, job->step = "eventfd";
  napi_value promise, handle, name, result;
  napi_create_promise(env, &job->deferred, &promise);
  if (job->err == 0) {
    napi_create_string_utf8(env, "berth:sendFile", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, send_done, &job->tsfn) != napi_ok) {
      job->err = ENOMEM, job->step = "napi_create_threadsafe_function";
    } else {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&attr, 64 * 1024);
      pthread_t thread;
      int err = pthread_create(&thread, &attr, send_thread, job);
      pthread_attr_destroy(&attr);
      if (err != 0) {
        napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
        job->err = err, job->step = "pthread_create";
      }
    }
  }
  if (job->err != 0) {
    /* Nothing started: settle now, as the completion callback would. */
    int saved = job->err;
    if (job->sock >= 0) close(job->sock);
    if (job->file >= 0) close(job->file);
    if (job->wake >= 0) close(job->wake);
    job->sock = job->file = job->wake = -1;
    job->done = true;
    napi_reject_deferred(env, job->deferred, send_error(env, saved, job->step));
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
