/*
 * berth-monitor: one small process per container (or exec). It holds the process's stdio,
 * appends its output to a log, serves attach clients on a unix socket and records the
 * exit status, so containers outlive the daemon. The wire protocol, the exit-status JSON
 * and the log record format are fixed in src/runtime/monitor/protocol.ts.
 *
 *   berth-monitor --socket PATH [--log PATH [--log-max-size BYTES] [--log-max-files N]]
 *                 [--exit-file PATH] [--pid-file PATH] [--monitor-pid-file PATH]
 *                 [--oom-cgroup DIR] [--tty --console-socket PATH] [--stdin] [--wait-start]
 *                 [--sync-fd N] [--runtime-fd N] [--runtime-env NAME=VALUE]... [--volatile]
 *                 [--runtime-hide FILE] -- RUNTIME_ARGV... [--then START_ARGV...]
 *
 * With --pid-file the runtime (runc run -d / runc exec -d) starts the process and exits;
 * the process is reparented to the monitor (a child subreaper) and its pid read from the
 * pid file. Without --pid-file RUNTIME_ARGV is the process itself.
 * --then: RUNTIME_ARGV only creates the process (`crun create`: it waits at the runtime's exec
 * fifo); once it has exited, START_ARGV (`crun start`) lets the process run, and its exit is
 * the runtime's. crun's `run -d` traces the process until it has exec'd, and a process that
 * exits while crun still traces it is released with crun, its status lost to the monitor;
 * a created process is the monitor's child before it runs.
 * --monitor-pid-file: the monitor's own pid, written atomically once it listens and removed
 * as it exits (how the daemon finds a monitor without scanning /proc).
 * --oom-cgroup: the process's memory cgroup; its oom_kill counter tells whether the kernel's
 * OOM killer struck, reported as "oomKilled" in the exit status.
 * --log-max-size / --log-max-files: rotation, as Docker's json-file driver: once the log
 * reaches the size, LOG.(k) becomes LOG.(k+1), LOG becomes LOG.1 and a new LOG starts, keeping
 * at most max-files files (1: LOG is truncated in place).
 * --runtime-fd: the runtime's executable as an fd (berthd's sealed memfd copy of runc):
 * exec'd instead of RUNTIME_ARGV[0], so `runc init` need not re-exec itself from a
 * bind-mounted or copied binary. Close-on-exec here, closed once the runtime has forked:
 * nothing the container starts ever holds it.
 * --runtime-env: set in the runtime's environment only (not the monitor's), e.g. GOMAXPROCS=1.
 * --runtime-hide: the runtime runs in a mount namespace of its own (a private copy of ours)
 * where FILE reads empty (/dev/null is bound over it). berthd hides the v2 tree's
 * cgroup.controllers of a hybrid cgroup host from crun, which refuses to create a container
 * when that file lists a controller; the container's own mount namespace is made from the copy,
 * and nothing of it reaches the host's.
 * --volatile: nothing of the task outlives a machine crash (a `--rm` container, removed at its
 * exit and at a restore): the exit file and the log are not fsynced. Still written atomically,
 * so a daemon (not machine) crash finds them whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum {
  FRAME_STDIN = 0,
  FRAME_STDOUT = 1,
  FRAME_STDERR = 2,
  FRAME_STDIN_CLOSE = 3,
  FRAME_RESIZE = 4,
  FRAME_START = 5,
  FRAME_STARTED = 16,
  FRAME_EXITED = 17,
  FRAME_ERROR = 18,
  FRAME_HELLO = 19,
};

/* Sent first on every connection, in HELLO; bump on any incompatible change of frames or files. */
#define PROTOCOL_VERSION 1

#define FRAME_HEADER 5
#define CLIENT_OUTPUT_CAP (1u << 20)  /* past this, output waits for the client (the process blocks) */
#define CLIENT_HARD_CAP (8u << 20)    /* past this a client is dropped at once */
#define SLOW_CLIENT_GRACE_MS 5000     /* a client stuck past CLIENT_OUTPUT_CAP this long is dropped */
#define CLIENT_FRAME_CAP (1u << 20)   /* largest frame accepted from a client */
#define STDIN_BUFFER_CAP (1u << 20)   /* clients stop being read while stdin is this far behind */
#define RUNTIME_ERROR_CAP 4096
#define DRAIN_MS 2000                 /* output drain after the process exits */
#define FLUSH_MS 2000                 /* client flush before the monitor exits */
#define MAX_CLIENTS 128
#define REAPED_MEMORY 64

struct buffer {
  char *data;
  size_t start, end, size;
};

struct client {
  int fd;
  struct buffer out;
  struct buffer in;
  int64_t full_since_ms; /* when its output buffer reached CLIENT_OUTPUT_CAP; 0 when below */
  int stdin_blocked;     /* holds a STDIN frame that waits for room in the stdin buffer */
};

struct options {
  const char *socket_path;
  const char *log_path;
  const char *exit_file;
  const char *pid_file;
  const char *monitor_pid_file;
  const char *oom_cgroup;
  const char *console_socket;
  const char *runtime_hide;
  long long log_max_size; /* 0: no rotation */
  int log_max_files;
  int tty;
  int stdin_enabled;
  int wait_start;
  int volatile_files;
  int sync_fd;
  int runtime_fd;
  char *runtime_env[8];
  int runtime_env_count;
  char **runtime_argv;
  char **start_argv; /* after --then, or NULL */
};

static struct options opt = {.sync_fd = -1, .runtime_fd = -1, .log_max_files = 1};

/* Monitor state. */
static int listen_fd = -1, console_listen_fd = -1, signal_fd = -1, log_fd = -1;
static int out_fd = -1, err_fd = -1;    /* process stdout/stderr pipes, or the pty master as out_fd */
static int stdin_fd = -1;               /* stdin pipe write end, or the pty master */
static int runtime_err_fd = -1;         /* tty mode: the runtime's own stderr, kept for error messages */
static int master_fd = -1;
static struct buffer stdin_buffer;
static int stdin_close_requested = 0;
static int pending_rows = 0, pending_cols = 0;
static pid_t runtime_pid = -1, process_pid = -1;
/* With --then: the start runtime has been spawned, for the process of this pid (created, not yet running). */
static int start_spawned = 0;
static pid_t created_pid = -1;
static int runtime_started = 0, runtime_done = 0, process_started = 0, process_exited = 0;
static int process_status = 0;
static int process_pidfd = -1; /* when the process is not our child: exit seen, status unknown */
#define STATUS_RUNTIME_FAILED (-1)
#define STATUS_UNKNOWN (-2)
static char runtime_error[RUNTIME_ERROR_CAP];
static size_t runtime_error_length = 0;
static char *exit_json = NULL;
static char *error_message = NULL;
static struct client clients[MAX_CLIENTS];
static int client_count = 0;
static struct {
  pid_t pid;
  int status;
} reaped[REAPED_MEMORY];
static int reaped_next = 0;
static long long log_size = 0;
static long long oom_kills_before = 0; /* the cgroup's counter before the runtime ran */

/* ---------- small helpers ---------- */

static void sync_message(const char *format, ...) {
  if (opt.sync_fd < 0) return;
  char message[1024];
  va_list args;
  va_start(args, format);
  int length = vsnprintf(message, sizeof message, format, args);
  va_end(args);
  if (length < 0) return;
  if ((size_t)length >= sizeof message) length = sizeof message - 1;
  ssize_t ignored = write(opt.sync_fd, message, (size_t)length);
  (void)ignored;
  close(opt.sync_fd);
  opt.sync_fd = -1;
}

static void fail_setup(const char *format, ...) {
  char message[900];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  sync_message("error: %s\n", message);
  if (opt.socket_path) unlink(opt.socket_path);
  if (opt.console_socket) unlink(opt.console_socket);
  if (opt.monitor_pid_file) unlink(opt.monitor_pid_file);
  _exit(1);
}

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static size_t buffer_length(const struct buffer *b) { return b->end - b->start; }

static int buffer_append(struct buffer *b, const void *data, size_t length) {
  if (b->end + length > b->size) {
    size_t used = buffer_length(b);
    if (b->start > 0) {
      memmove(b->data, b->data + b->start, used);
      b->start = 0;
      b->end = used;
    }
    if (used + length > b->size) {
      size_t size = b->size ? b->size : 4096;
      while (size < used + length) size *= 2;
      char *grown = realloc(b->data, size);
      if (grown == NULL) return -1;
      b->data = grown;
      b->size = size;
    }
  }
  memcpy(b->data + b->end, data, length);
  b->end += length;
  return 0;
}

static void buffer_consume(struct buffer *b, size_t length) {
  b->start += length;
  if (b->start == b->end) {
    b->start = b->end = 0;
    /* Give memory back after a burst so an idle monitor stays small. */
    if (b->size > 65536) {
      free(b->data);
      b->data = NULL;
      b->size = 0;
    }
  }
}

static void buffer_free(struct buffer *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* RFC 3339 with nanoseconds in UTC, trailing zeros trimmed (Go's RFC3339Nano, as Docker prints). */
static void format_time(int64_t ns, char *out, size_t size) {
  time_t seconds = (time_t)(ns / 1000000000);
  long fraction = (long)(ns % 1000000000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  if (fraction == 0) {
    snprintf(out, size, "%sZ", date);
    return;
  }
  char digits[16];
  snprintf(digits, sizeof digits, "%09ld", fraction);
  for (int i = 8; i > 0 && digits[i] == '0'; i--) digits[i] = '\0';
  snprintf(out, size, "%s.%sZ", date, digits);
}

static void json_escape(const char *in, char *out, size_t size) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && o + 7 < size; p++) {
    if (*p == '"' || *p == '\\') {
      out[o++] = '\\';
      out[o++] = (char)*p;
    } else if (*p == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (*p < 0x20) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", *p);
    } else {
      out[o++] = (char)*p;
    }
  }
  out[o] = '\0';
}

/* ---------- clients ---------- */

static void drop_client(int index) {
  close(clients[index].fd);
  buffer_free(&clients[index].out);
  buffer_free(&clients[index].in);
  clients[index] = clients[client_count - 1];
  memset(&clients[client_count - 1], 0, sizeof clients[0]);
  client_count--;
}

/* Writes what the socket takes now; returns -1 when the client is gone. */
static int flush_client(struct client *c) {
  while (buffer_length(&c->out) > 0) {
    ssize_t n = send(c->fd, c->out.data + c->out.start, buffer_length(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      buffer_consume(&c->out, (size_t)n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return 0;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

static int queue_frame(struct client *c, int type, const void *payload, size_t length) {
  if (buffer_length(&c->out) + FRAME_HEADER + length > CLIENT_HARD_CAP) return -1;
  unsigned char header[FRAME_HEADER];
  header[0] = (unsigned char)type;
  put_u32(header + 1, (uint32_t)length);
  if (buffer_append(&c->out, header, sizeof header) != 0) return -1;
  if (length > 0 && buffer_append(&c->out, payload, length) != 0) return -1;
  return flush_client(c);
}

static void broadcast(int type, const void *payload, size_t length) {
  for (int i = client_count - 1; i >= 0; i--) {
    if (queue_frame(&clients[i], type, payload, length) != 0) drop_client(i);
  }
}

/*
 * Whether output must wait for a slow client. A client past CLIENT_OUTPUT_CAP holds the
 * process's output (as an attached docker client does) for at most SLOW_CLIENT_GRACE_MS;
 * then it is dropped so the container is never blocked forever.
 */
static int output_blocked(void) {
  int blocked = 0;
  int64_t now = monotonic_ms();
  for (int i = client_count - 1; i >= 0; i--) {
    struct client *c = &clients[i];
    if (buffer_length(&c->out) < CLIENT_OUTPUT_CAP) {
      c->full_since_ms = 0;
      continue;
    }
    if (c->full_since_ms == 0) c->full_since_ms = now;
    if (now - c->full_since_ms > SLOW_CLIENT_GRACE_MS) {
      drop_client(i);
    } else {
      blocked = 1;
    }
  }
  return blocked;
}

static void send_hello(struct client *c) {
  char hello[128];
  int length = process_started
                   ? snprintf(hello, sizeof hello, "{\"version\":%d,\"monitorPid\":%d,\"pid\":%d}", PROTOCOL_VERSION, (int)getpid(), (int)process_pid)
                   : snprintf(hello, sizeof hello, "{\"version\":%d,\"monitorPid\":%d}", PROTOCOL_VERSION, (int)getpid());
  queue_frame(c, FRAME_HELLO, hello, (size_t)length);
}

static void send_started(struct client *c) {
  char pid[32];
  int length = snprintf(pid, sizeof pid, "%d", (int)process_pid);
  if (c != NULL) {
    queue_frame(c, FRAME_STARTED, pid, (size_t)length);
  } else {
    broadcast(FRAME_STARTED, pid, (size_t)length);
  }
}

/* ---------- log ---------- */

/*
 * Index records (stream 3, format in src/runtime/monitor/protocol.ts) let readers seek back
 * from the end: a header at offset 0 of every log file carries a random nonce, and a sync
 * record repeats it every LOG_SYNC_INTERVAL bytes. The container never sees the log, so it
 * cannot forge a record holding the nonce inside its own output.
 */
#define LOG_STREAM_INDEX 3
#define LOG_INDEX_VERSION 1
#define LOG_INDEX_PAYLOAD 18 /* version u8, kind u8 (low nibble) + mid-line flags (high nibble), nonce[16] */
#define LOG_INDEX_RECORD (13 + LOG_INDEX_PAYLOAD)
#define LOG_SYNC_INTERVAL (64u << 10)
enum { LOG_INDEX_HEADER = 0, LOG_INDEX_SYNC = 1, LOG_INDEX_REOPEN = 2 };

static unsigned char log_nonce[16];
static int log_indexed = 0;          /* the file starts with our header: keep writing sync records */
static uint64_t log_since_sync = 0;  /* bytes written since the last index record */
static unsigned char log_mid_line = 0; /* bit 0: stdout's last logged byte was not \n; bit 1: stderr's */

static void log_header(unsigned char *p, int stream, uint64_t ns, uint32_t length) {
  p[0] = (unsigned char)stream;
  for (int i = 0; i < 8; i++) p[1 + i] = (unsigned char)(ns >> (56 - 8 * i));
  put_u32(p + 9, length);
}

static void log_index_record(unsigned char *p, int kind, uint64_t ns) {
  log_header(p, LOG_STREAM_INDEX, ns, LOG_INDEX_PAYLOAD);
  p[13] = LOG_INDEX_VERSION;
  p[14] = (unsigned char)(kind | (log_mid_line << 4));
  memcpy(p + 15, log_nonce, sizeof log_nonce);
}

/* Writes everything or gives up (disk full); a short write is finished so records stay aligned. */
static void log_write(const unsigned char *prefix, size_t prefix_length, const char *data, size_t length) {
  struct iovec iov[2] = {{(void *)prefix, prefix_length}, {(void *)data, length}};
  size_t total = prefix_length + length;
  ssize_t n = writev(log_fd, iov, length > 0 ? 2 : 1);
  if (n > 0) log_size += n;
  if (n < 0 || (size_t)n >= total) return;
  size_t done = (size_t)n;
  while (done < total) {
    const char *p = done < prefix_length ? (const char *)prefix + done : data + (done - prefix_length);
    size_t left = done < prefix_length ? prefix_length - done : total - done;
    ssize_t m = write(log_fd, p, left);
    if (m <= 0) break;
    done += (size_t)m;
    log_size += m;
  }
}

/*
 * Call after opening a log file (also a fresh one after rotation). An empty file gets a
 * header; a file that has one is appended to after a reopen record (readers end any
 * unfinished line there); a file from an older monitor without a header stays unindexed.
 */
static void log_start_file(void) {
  struct stat st;
  if (fstat(log_fd, &st) != 0) return;
  unsigned char record[LOG_INDEX_RECORD];
  if (st.st_size == 0) {
    if (!log_indexed) {
      size_t got = 0;
      int urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      if (urandom >= 0) {
        ssize_t r = read(urandom, log_nonce, sizeof log_nonce);
        if (r > 0) got = (size_t)r;
        close(urandom);
      }
      if (got != sizeof log_nonce) return; /* no randomness: an unindexed log still works */
    }
    log_index_record(record, LOG_INDEX_HEADER, (uint64_t)now_ns());
  } else {
    unsigned char head[LOG_INDEX_RECORD];
    if (pread(log_fd, head, sizeof head, 0) != (ssize_t)sizeof head || head[0] != LOG_STREAM_INDEX ||
        head[9] != 0 || head[10] != 0 || head[11] != 0 || head[12] != LOG_INDEX_PAYLOAD || head[13] != LOG_INDEX_VERSION) {
      log_indexed = 0;
      return;
    }
    memcpy(log_nonce, head + 15, sizeof log_nonce);
    log_mid_line = 0;
    log_index_record(record, LOG_INDEX_REOPEN, (uint64_t)now_ns());
  }
  log_indexed = 1;
  log_write(record, sizeof record, NULL, 0);
  log_since_sync = 0;
}

/* Opens a fresh log as PATH.new and renames it over PATH, so PATH always exists for readers. */
static int replace_log_file(void) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.new", opt.log_path);
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return -1;
  if (rename(tmp, opt.log_path) != 0) {
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(log_fd);
  log_fd = fd;
  log_size = 0;
  log_start_file();
  return 0;
}

static void rotate_log(void) {
  if (opt.log_max_files <= 1) {
    if (ftruncate(log_fd, 0) == 0) {
      log_size = 0;
      log_start_file();
    }
    return;
  }
  char from[PATH_MAX], to[PATH_MAX];
  for (int k = opt.log_max_files - 2; k >= 1; k--) {
    snprintf(from, sizeof from, "%s.%d", opt.log_path, k);
    snprintf(to, sizeof to, "%s.%d", opt.log_path, k + 1);
    if (rename(from, to) != 0 && errno != ENOENT) return;
  }
  /* A hard link first: LOG and LOG.1 are one file until the fresh LOG replaces the name. */
  snprintf(to, sizeof to, "%s.1", opt.log_path);
  unlink(to);
  if (link(opt.log_path, to) != 0) return;
  if (replace_log_file() != 0) unlink(to); /* keep writing to the old file; no data is lost */
}

static void log_record(int stream, const char *data, size_t length) {
  if (log_fd < 0) return;
  /* As Docker's log files: rotate before a write once the size is reached, so a file holds whole records. */
  if (opt.log_max_size > 0 && log_size >= opt.log_max_size) rotate_log();
  unsigned char prefix[LOG_INDEX_RECORD + 13];
  size_t prefix_length = 0;
  uint64_t ns = (uint64_t)now_ns();
  if (log_indexed && log_since_sync >= LOG_SYNC_INTERVAL) {
    log_index_record(prefix, LOG_INDEX_SYNC, ns);
    prefix_length = LOG_INDEX_RECORD;
    log_since_sync = 0;
  }
  log_header(prefix + prefix_length, stream, ns, (uint32_t)length);
  prefix_length += 13;
  log_write(prefix, prefix_length, data, length);
  log_since_sync += 13 + length;
  if (length > 0 && (stream == 1 || stream == 2)) {
    unsigned char bit = (unsigned char)(1 << (stream - 1));
    if (data[length - 1] == '\n') log_mid_line &= (unsigned char)~bit;
    else log_mid_line |= bit;
  }
}

/* ---------- process output and input ---------- */

static char io_buffer[32768];

/* Reads what is available from an output fd; returns -1 at EOF (or EIO on a pty). */
static int pump_output(int fd, int stream) {
  for (int rounds = 0; rounds < 16; rounds++) {
    ssize_t n = read(fd, io_buffer, sizeof io_buffer);
    if (n > 0) {
      log_record(stream, io_buffer, (size_t)n);
      broadcast(stream, io_buffer, (size_t)n);
      if (output_blocked()) return 0;
      if (stream == FRAME_STDERR && !runtime_done) {
        /* Before the runtime is done, stderr may be the runtime's own complaint: keep its tail. */
        size_t keep = (size_t)n < RUNTIME_ERROR_CAP - 1 ? (size_t)n : RUNTIME_ERROR_CAP - 1;
        if (runtime_error_length + keep > RUNTIME_ERROR_CAP - 1) runtime_error_length = 0;
        memcpy(runtime_error + runtime_error_length, io_buffer + n - keep, keep);
        runtime_error_length += keep;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    return -1;
  }
  return 0;
}

static void pump_runtime_errors(void) {
  ssize_t n = read(runtime_err_fd, io_buffer, sizeof io_buffer);
  if (n > 0) {
    size_t keep = (size_t)n < RUNTIME_ERROR_CAP - 1 ? (size_t)n : RUNTIME_ERROR_CAP - 1;
    if (runtime_error_length + keep > RUNTIME_ERROR_CAP - 1) runtime_error_length = 0;
    memcpy(runtime_error + runtime_error_length, io_buffer + n - keep, keep);
    runtime_error_length += keep;
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    close(runtime_err_fd);
    runtime_err_fd = -1;
  }
}

static void close_stdin_if_requested(void) {
  if (!stdin_close_requested || buffer_length(&stdin_buffer) > 0 || opt.tty) return;
  if (stdin_fd >= 0) {
    close(stdin_fd);
    stdin_fd = -1;
  }
}

static void flush_stdin(void) {
  while (stdin_fd >= 0 && buffer_length(&stdin_buffer) > 0) {
    ssize_t n = write(stdin_fd, stdin_buffer.data + stdin_buffer.start, buffer_length(&stdin_buffer));
    if (n > 0) {
      buffer_consume(&stdin_buffer, (size_t)n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      /* The reader is gone (EPIPE): nothing will ever read this input. */
      buffer_consume(&stdin_buffer, buffer_length(&stdin_buffer));
      if (!opt.tty) {
        close(stdin_fd);
        stdin_fd = -1;
      }
      return;
    }
  }
  close_stdin_if_requested();
}

static void apply_winsize(void) {
  if (master_fd < 0 || pending_rows <= 0 || pending_cols <= 0) return;
  struct winsize ws = {.ws_row = (unsigned short)pending_rows, .ws_col = (unsigned short)pending_cols};
  ioctl(master_fd, TIOCSWINSZ, &ws);
}

/* ---------- OOM ---------- */

/* The oom_kill counter of the memory cgroup (v1 memory.oom_control, v2 memory.events); 0 when unknown. */
static long long read_oom_kills(void) {
  if (opt.oom_cgroup == NULL) return 0;
  static const char *const files[] = {"memory.oom_control", "memory.events"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char file[PATH_MAX], text[1024];
    snprintf(file, sizeof file, "%s/%s", opt.oom_cgroup, files[i]);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) continue;
    text[n] = '\0';
    for (char *line = text; line != NULL && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
      if (strncmp(line, "oom_kill ", 9) == 0) return strtoll(line + 9, NULL, 10);
    }
  }
  return 0;
}

/* ---------- runtime ---------- */

/*
 * Every signal ignored by whoever exec'd us back to its default. A daemon spawning us with
 * posix_spawn (glibc) hands glibc's internal signals (32, 33) over ignored, and an ignored
 * signal survives exec: runc and the container would inherit it (SigIgn in
 * /proc/self/status). glibc's sigaction refuses those numbers, so the raw syscall: an all-zero
 * kernel sigaction is SIG_DFL with no flags on every layout, and the handler is its first word.
 */
static void reset_ignored_signals(void) {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    unsigned long old[4] = {0, 0, 0, 0};
    static const unsigned long dfl[4] = {0, 0, 0, 0};
    if (syscall(SYS_rt_sigaction, sig, NULL, old, 8) == 0 && old[0] == (unsigned long)SIG_IGN) {
      syscall(SYS_rt_sigaction, sig, dfl, NULL, 8);
    }
  }
}

static void reset_child_signals(void) {
  /* Ignored signals survive exec: the container must not inherit our SIGPIPE/SIGHUP policy. */
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * The runtime's environment: ours with each --runtime-env NAME=VALUE replacing or added.
 * Built before the vfork, since the child shares our memory until it execs.
 */
static char **runtime_environment(void) {
  size_t count = 0;
  while (environ[count] != NULL) count++;
  char **env = calloc(count + (size_t)opt.runtime_env_count + 1, sizeof *env);
  if (env == NULL) return NULL;
  memcpy(env, environ, count * sizeof *env);
  for (int i = 0; i < opt.runtime_env_count; i++) {
    const char *pair = opt.runtime_env[i];
    size_t name_length = strcspn(pair, "=");
    size_t j = 0;
    while (j < count && !(strncmp(env[j], pair, name_length) == 0 && env[j][name_length] == '=')) j++;
    env[j] = opt.runtime_env[i];
    if (j == count) count++;
  }
  return env;
}

/*
 * In the runtime's child (after vfork, before exec): a mount namespace of its own, no longer
 * propagating to ours, where /dev/null is bound over `file`. Only syscalls: the vfork child
 * must not write the parent's memory.
 */
static int hide_from_runtime(const char *file) {
  if (unshare(CLONE_NEWNS) != 0) return -1;
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return -1;
  return mount("/dev/null", file, NULL, MS_BIND, NULL);
}

static void start_runtime(void) {
  if (runtime_started) return;
  runtime_started = 1;
  /* Usually the runtime creates the cgroup; one left by an earlier run keeps its old count. */
  oom_kills_before = read_oom_kills();
  int child_in = -1, child_out = -1, child_err = -1;
  int pipe_in[2] = {-1, -1}, pipe_out[2], pipe_err[2];
  if (opt.tty) {
    child_in = open("/dev/null", O_RDWR | O_CLOEXEC);
    child_out = child_in;
    if (pipe2(pipe_err, O_CLOEXEC) != 0) goto fail;
    child_err = pipe_err[1];
    runtime_err_fd = pipe_err[0];
    set_nonblocking(runtime_err_fd);
  } else {
    if (opt.stdin_enabled) {
      if (pipe2(pipe_in, O_CLOEXEC) != 0) goto fail;
      child_in = pipe_in[0];
      stdin_fd = pipe_in[1];
      set_nonblocking(stdin_fd);
    } else {
      child_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (pipe2(pipe_out, O_CLOEXEC) != 0 || pipe2(pipe_err, O_CLOEXEC) != 0) goto fail;
    child_out = pipe_out[1];
    child_err = pipe_err[1];
    out_fd = pipe_out[0];
    err_fd = pipe_err[0];
    set_nonblocking(out_fd);
    set_nonblocking(err_fd);
  }
  char **env = runtime_environment();
  if (env == NULL) goto fail;
  /*
   * vfork: no copy of our page tables and no copy-on-write faults afterwards (each costs
   * ~40 us in this kind of VM), for a child that only sets up its fds and signals and execs.
   * It writes no memory of ours: the environment is built above, errors go out by write(2).
   */
  runtime_pid = vfork();
  if (runtime_pid < 0) {
    free(env);
    goto fail;
  }
  if (runtime_pid == 0) {
    reset_child_signals();
    /* dup2 clears FD_CLOEXEC on the targets; fds 0-2 are /dev/null until now. */
    if (dup2(child_in, 0) < 0 || dup2(child_out, 1) < 0 || dup2(child_err, 2) < 0) _exit(126);
    if (opt.runtime_hide != NULL && hide_from_runtime(opt.runtime_hide) != 0) {
      const char *reason = strerror(errno);
      struct iovec parts[] = {
          {(void *)"berth-monitor: cannot hide ", 27},
          {(void *)opt.runtime_hide, strlen(opt.runtime_hide)},
          {(void *)" from the runtime: ", 19},
          {(void *)reason, strlen(reason)},
          {(void *)"\n", 1},
      };
      if (writev(2, parts, 5) < 0) _exit(126);
      _exit(126);
    }
    /* A sealed copy that cannot be exec'd (e.g. a noexec policy) leaves the binary on disk. */
    if (opt.runtime_fd >= 0) fexecve(opt.runtime_fd, opt.runtime_argv, env);
    execvpe(opt.runtime_argv[0], opt.runtime_argv, env);
    const char *reason = strerror(errno);
    struct iovec parts[] = {
        {(void *)"berth-monitor: cannot run ", 26},
        {opt.runtime_argv[0], strlen(opt.runtime_argv[0])},
        {(void *)": ", 2},
        {(void *)reason, strlen(reason)},
        {(void *)"\n", 1},
    };
    if (writev(2, parts, 5) < 0) _exit(127);
    _exit(127);
  }
  free(env);
  /* The runtime runs once per monitor (twice with --then: kept for the start). */
  if (opt.runtime_fd >= 0 && opt.start_argv == NULL) {
    close(opt.runtime_fd);
    opt.runtime_fd = -1;
  }
  close(child_in);
  if (child_out != child_in) close(child_out);
  close(child_err);
  if (opt.pid_file == NULL) {
    /* Direct mode: the runtime is the process. */
    process_pid = runtime_pid;
    process_started = 1;
    send_started(NULL);
  }
  flush_stdin();
  return;
fail:
  snprintf(runtime_error, sizeof runtime_error, "cannot start runtime: %s", strerror(errno));
  runtime_error_length = strlen(runtime_error);
  error_message = strdup(runtime_error);
  broadcast(FRAME_ERROR, error_message, strlen(error_message));
  runtime_done = 1;
  process_exited = 1;
  process_status = STATUS_RUNTIME_FAILED;
}

static pid_t read_pid_file(void) {
  char text[32] = {0};
  int fd = open(opt.pid_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return -1;
  long pid = strtol(text, NULL, 10);
  return pid > 0 ? (pid_t)pid : -1;
}

static void set_runtime_error(int status) {
  char message[RUNTIME_ERROR_CAP + 128];
  int length;
  if (WIFSIGNALED(status)) {
    length = snprintf(message, sizeof message, "runtime killed by signal %d", WTERMSIG(status));
  } else {
    length = snprintf(message, sizeof message, "runtime exited with status %d", WEXITSTATUS(status));
  }
  /* Keep the last line the runtime printed: usually the reason. */
  while (runtime_error_length > 0 && (runtime_error[runtime_error_length - 1] == '\n' || runtime_error[runtime_error_length - 1] == '\r')) {
    runtime_error_length--;
  }
  if (runtime_error_length > 0 && length > 0 && (size_t)length < sizeof message) {
    snprintf(message + length, sizeof message - (size_t)length, ": %.*s", (int)runtime_error_length, runtime_error);
  }
  free(error_message);
  error_message = strdup(message);
}

static int take_reaped(pid_t pid, int *status) {
  for (int i = 0; i < REAPED_MEMORY; i++) {
    if (reaped[i].pid == pid) {
      *status = reaped[i].status;
      reaped[i].pid = 0;
      return 1;
    }
  }
  return 0;
}

static void on_process_exit(int status) {
  process_exited = 1;
  process_status = status;
}

/* A failed runtime's stderr is its complaint, not the process's output: it goes into the
 * error message only, never to attached clients or the log. */
static void drain_runtime_complaint(void) {
  for (;;) {
    ssize_t n = read(err_fd, io_buffer, sizeof io_buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    size_t keep = (size_t)n < RUNTIME_ERROR_CAP - 1 ? (size_t)n : RUNTIME_ERROR_CAP - 1;
    if (runtime_error_length + keep > RUNTIME_ERROR_CAP - 1) runtime_error_length = 0;
    memcpy(runtime_error + runtime_error_length, io_buffer + n - keep, keep);
    runtime_error_length += keep;
  }
}

/* With --then: runs START_ARGV with /dev/null for stdio (its complaint goes to the runtime's log). */
static int spawn_start_runtime(void) {
  char **env = runtime_environment();
  if (env == NULL) return -1;
  pid_t pid = vfork();
  if (pid < 0) {
    free(env);
    return -1;
  }
  if (pid == 0) {
    reset_child_signals();
    if (opt.runtime_fd >= 0) fexecve(opt.runtime_fd, opt.start_argv, env);
    execvpe(opt.start_argv[0], opt.start_argv, env);
    _exit(127);
  }
  free(env);
  if (opt.runtime_fd >= 0) {
    close(opt.runtime_fd);
    opt.runtime_fd = -1;
  }
  runtime_pid = pid;
  start_spawned = 1;
  return 0;
}

static void on_runtime_exit(int status) {
  if (opt.start_argv != NULL && !start_spawned && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    /* Created: the process waits for the start, as our child now that the runtime is gone.
     * Without a pid the create is judged below as any runtime that wrote none. */
    created_pid = read_pid_file();
    if (created_pid > 0) {
      if (spawn_start_runtime() == 0) return;
      runtime_error_length = (size_t)snprintf(runtime_error, sizeof runtime_error, "cannot start runtime: %s", strerror(errno));
      status = 1 << 8;
    }
  }
  /* The runtime's last words may still sit in the pipe: read them before judging its exit.
   * With a pid file, what is there is the process's own output when the runtime succeeded
   * (the poll loop pumps it from now on), and the runtime's complaint when it failed. */
  if (err_fd >= 0) {
    if (opt.pid_file == NULL) pump_output(err_fd, FRAME_STDERR);
    else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) drain_runtime_complaint();
  }
  if (runtime_err_fd >= 0) pump_runtime_errors();
  runtime_done = 1;
  if (opt.pid_file == NULL) {
    on_process_exit(status);
    return;
  }
  pid_t pid = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? read_pid_file() : -1;
  if (pid <= 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      runtime_error_length = (size_t)snprintf(runtime_error, sizeof runtime_error, "no pid in %s", opt.pid_file);
      status = 1 << 8;
    }
    /* A created process whose start failed must not wait at the fifo forever. */
    if (created_pid > 0) kill(created_pid, SIGKILL);
    set_runtime_error(status);
    broadcast(FRAME_ERROR, error_message, strlen(error_message));
    process_exited = 1;
    process_status = STATUS_RUNTIME_FAILED;
    return;
  }
  process_pid = pid;
  process_started = 1;
  send_started(NULL);
  int process_wait_status;
  if (take_reaped(pid, &process_wait_status)) {
    on_process_exit(process_wait_status);
    return;
  }
  /* The runtime is reaped, so its children were reparented to us already. A process that
   * is not our child (the runtime waited for it, or it was started elsewhere) can only be
   * watched through a pidfd, and its status is lost. */
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) return;
  process_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (process_pidfd < 0) on_process_exit(STATUS_UNKNOWN);
}

static void reap_children(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == runtime_pid && !runtime_done) {
      on_runtime_exit(status);
    } else if (process_started && pid == process_pid) {
      on_process_exit(status);
    } else {
      /* An orphan, or the process before its pid was known: remember it briefly. */
      reaped[reaped_next].pid = pid;
      reaped[reaped_next].status = status;
      reaped_next = (reaped_next + 1) % REAPED_MEMORY;
    }
  }
}

/* ---------- console socket (tty) ---------- */

static void receive_console(void) {
  int conn = accept4(console_listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return;
  char data[256];
  struct iovec iov = {data, sizeof data};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  /* runc sends the master right after connecting; a short blocking wait is fine here. */
  struct pollfd p = {conn, POLLIN, 0};
  if (poll(&p, 1, 5000) > 0 && recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0) {
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      memcpy(&master_fd, CMSG_DATA(cmsg), sizeof(int));
      set_nonblocking(master_fd);
      out_fd = master_fd;
      stdin_fd = master_fd;
      apply_winsize();
      flush_stdin();
      close(console_listen_fd);
      console_listen_fd = -1;
      unlink(opt.console_socket);
    }
  }
  close(conn);
}

/* ---------- client frames ---------- */

static void handle_frame(int type, const char *payload, size_t length) {
  switch (type) {
    case FRAME_STDIN:
      if (opt.stdin_enabled && !stdin_close_requested) {
        buffer_append(&stdin_buffer, payload, length);
        flush_stdin();
      }
      break;
    case FRAME_STDIN_CLOSE:
      stdin_close_requested = 1;
      flush_stdin();
      break;
    case FRAME_RESIZE: {
      char text[64];
      size_t n = length < sizeof text - 1 ? length : sizeof text - 1;
      memcpy(text, payload, n);
      text[n] = '\0';
      int rows = 0, cols = 0;
      if (sscanf(text, "%d %d", &rows, &cols) == 2 && rows > 0 && cols > 0) {
        pending_rows = rows;
        pending_cols = cols;
        apply_winsize();
      }
      break;
    }
    case FRAME_START:
      if (opt.wait_start) start_runtime();
      break;
    default:
      break;
  }
}

static int stdin_full(void) {
  return opt.stdin_enabled && !stdin_close_requested && buffer_length(&stdin_buffer) >= STDIN_BUFFER_CAP;
}

/*
 * Handles the whole frames a client sent. A STDIN frame that finds the stdin buffer full
 * stays queued and the client is not read until there is room: only that client waits, the
 * others (resize, START, other input) go on. Returns -1 when the client misbehaves.
 */
static int process_client_frames(struct client *c) {
  c->stdin_blocked = 0;
  while (buffer_length(&c->in) >= FRAME_HEADER) {
    const unsigned char *p = (const unsigned char *)c->in.data + c->in.start;
    uint32_t length = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
    if (length > CLIENT_FRAME_CAP) return -1;
    if (buffer_length(&c->in) < FRAME_HEADER + (size_t)length) break;
    if (p[0] == FRAME_STDIN && stdin_full()) {
      c->stdin_blocked = 1;
      break;
    }
    handle_frame(p[0], (const char *)p + FRAME_HEADER, length);
    buffer_consume(&c->in, FRAME_HEADER + (size_t)length);
  }
  return 0;
}

/* Reads and handles a client's frames; returns -1 when the client is gone or misbehaves. */
static int read_client(struct client *c) {
  char chunk[16384];
  ssize_t n = recv(c->fd, chunk, sizeof chunk, MSG_DONTWAIT);
  if (n == 0) return -1;
  if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  if (buffer_append(&c->in, chunk, (size_t)n) != 0) return -1;
  return process_client_frames(c);
}

/* Lets clients held by a full stdin buffer go on once it has room. */
static void resume_stdin_clients(void) {
  for (int i = client_count - 1; i >= 0 && !stdin_full(); i--) {
    if (clients[i].stdin_blocked && process_client_frames(&clients[i]) != 0) drop_client(i);
  }
}

static void accept_clients(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (client_count >= MAX_CLIENTS) {
      close(fd);
      continue;
    }
    struct client *c = &clients[client_count++];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    send_hello(c);
    /* Late clients learn what already happened. */
    if (process_started) send_started(c);
    if (error_message != NULL) queue_frame(c, FRAME_ERROR, error_message, strlen(error_message));
    if (exit_json != NULL) queue_frame(c, FRAME_EXITED, exit_json, strlen(exit_json));
  }
}

/* ---------- exit ---------- */

static int write_exit_file(const char *json) {
  if (opt.exit_file == NULL) return 0;
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", opt.exit_file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  size_t length = strlen(json);
  int ok = write(fd, json, length) == (ssize_t)length && (opt.volatile_files || fsync(fd) == 0);
  close(fd);
  if (!ok || rename(tmp, opt.exit_file) != 0) {
    unlink(tmp);
    return -1;
  }
  if (opt.volatile_files) return 0;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", opt.exit_file);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash != NULL) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return 0;
}

static void build_exit_json(void) {
  char finished[64];
  format_time(now_ns(), finished, sizeof finished);
  /* Read before EXITED: the daemon removes the cgroup once it knows of the exit. */
  const char *oom = read_oom_kills() > oom_kills_before ? ",\"oomKilled\":true" : "";
  char json[RUNTIME_ERROR_CAP * 2 + 256];
  if (process_status == STATUS_UNKNOWN) {
    snprintf(json, sizeof json, "{\"exitCode\":255,\"finishedAt\":\"%s\"%s}", finished, oom);
  } else if (process_status == STATUS_RUNTIME_FAILED) {
    char escaped[RUNTIME_ERROR_CAP * 2];
    json_escape(error_message ? error_message : "runtime failed", escaped, sizeof escaped);
    snprintf(json, sizeof json, "{\"exitCode\":127,\"finishedAt\":\"%s\",\"error\":\"%s\"}", finished, escaped);
  } else if (WIFSIGNALED(process_status)) {
    int sig = WTERMSIG(process_status);
    snprintf(json, sizeof json, "{\"exitCode\":%d,\"signal\":%d,\"finishedAt\":\"%s\"%s}", 128 + sig, sig, finished, oom);
  } else {
    snprintf(json, sizeof json, "{\"exitCode\":%d,\"finishedAt\":\"%s\"%s}", WEXITSTATUS(process_status), finished, oom);
  }
  exit_json = strdup(json);
}

/* ---------- main loop ---------- */

static void event_loop(void) {
  struct pollfd fds[MAX_CLIENTS + 8];
  int64_t drain_deadline = -1, flush_deadline = -1;
  for (;;) {
    if (process_exited && drain_deadline < 0) drain_deadline = monotonic_ms() + DRAIN_MS;
    int output_open = out_fd >= 0 || err_fd >= 0;
    int blocked = output_blocked();
    if (process_exited && exit_json == NULL && (!output_open || (!blocked && monotonic_ms() >= drain_deadline))) {
      build_exit_json();
      write_exit_file(exit_json);
      broadcast(FRAME_EXITED, exit_json, strlen(exit_json));
      flush_deadline = monotonic_ms() + FLUSH_MS;
    }
    if (exit_json != NULL) {
      int pending = 0;
      for (int i = 0; i < client_count; i++) pending |= buffer_length(&clients[i].out) > 0;
      if (!pending || monotonic_ms() >= flush_deadline) return;
    }

    int n = 0;
    int listen_index = n;
    fds[n++] = (struct pollfd){listen_fd, POLLIN, 0};
    int signal_index = n;
    fds[n++] = (struct pollfd){signal_fd, POLLIN, 0};
    int console_index = n;
    fds[n++] = (struct pollfd){console_listen_fd, POLLIN, 0};
    int out_index = n;
    fds[n++] = (struct pollfd){blocked ? -1 : out_fd, POLLIN, 0};
    int err_index = n;
    /* Until runc run/exec -d is done, the stderr pipe may carry runc's own complaint: it is
     * read only once runc's exit says whose bytes they are (on_runtime_exit). */
    int holding_stderr = opt.pid_file != NULL && !runtime_done;
    fds[n++] = (struct pollfd){blocked || holding_stderr ? -1 : err_fd, POLLIN, 0};
    int pidfd_index = n;
    fds[n++] = (struct pollfd){process_exited ? -1 : process_pidfd, POLLIN, 0};
    int runtime_err_index = n;
    fds[n++] = (struct pollfd){runtime_err_fd, POLLIN, 0};
    int stdin_index = n;
    int stdin_waiting = stdin_fd >= 0 && buffer_length(&stdin_buffer) > 0;
    /* The pty master is polled for input above; for writing it gets a separate entry. */
    fds[n++] = (struct pollfd){stdin_waiting ? stdin_fd : -1, POLLOUT, 0};
    int first_client = n;
    for (int i = 0; i < client_count; i++) {
      short events = (short)((clients[i].stdin_blocked ? 0 : POLLIN) | (buffer_length(&clients[i].out) > 0 ? POLLOUT : 0));
      fds[n++] = (struct pollfd){clients[i].fd, events, 0};
    }

    int timeout = -1;
    if (process_exited && exit_json == NULL) timeout = (int)(drain_deadline - monotonic_ms());
    if (exit_json != NULL) timeout = (int)(flush_deadline - monotonic_ms());
    if (blocked && (timeout < 0 || timeout > 100)) timeout = 100;
    if (timeout < -1) timeout = 0;
    if (poll(fds, (nfds_t)n, timeout) < 0) {
      if (errno == EINTR) continue;
      return;
    }

    if (fds[signal_index].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof info) == sizeof info) {
      }
      reap_children();
    }
    if (fds[out_index].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (pump_output(out_fd, FRAME_STDOUT) != 0) {
        if (out_fd == master_fd) {
          /* EIO on the master: every slave is closed. Input has nowhere to go either. */
          master_fd = -1;
          stdin_fd = -1;
        }
        close(out_fd);
        out_fd = -1;
      }
    }
    if (fds[err_index].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (pump_output(err_fd, FRAME_STDERR) != 0) {
        close(err_fd);
        err_fd = -1;
      }
    }
    if (fds[pidfd_index].revents & POLLIN) {
      close(process_pidfd);
      process_pidfd = -1;
      if (!process_exited) on_process_exit(STATUS_UNKNOWN);
    }
    if (fds[runtime_err_index].revents & (POLLIN | POLLHUP | POLLERR)) pump_runtime_errors();
    if (fds[stdin_index].revents & (POLLOUT | POLLERR | POLLHUP)) flush_stdin();
    /* Walked after the fds above: resuming may drop (and so reorder) clients. */
    if (fds[console_index].revents & POLLIN) receive_console();
    /* Clients: walk backwards so drop_client's swap-with-last keeps the indexes valid. */
    int polled_clients = n - first_client;
    for (int i = polled_clients - 1; i >= 0; i--) {
      short revents = fds[first_client + i].revents;
      if (revents == 0) continue;
      int gone = 0;
      if (revents & POLLIN) gone = read_client(&clients[i]) != 0;
      if (!gone && (revents & POLLOUT)) gone = flush_client(&clients[i]) != 0;
      if (!gone && (revents & (POLLHUP | POLLERR)) && !(revents & POLLIN)) gone = 1;
      if (gone) drop_client(i);
    }
    if (fds[listen_index].revents & POLLIN) accept_clients();
    resume_stdin_clients();
  }
}

/* ---------- setup ---------- */

static void usage(const char *message) {
  fprintf(stderr, "berth-monitor: %s\n", message);
  fprintf(stderr,
          "usage: berth-monitor --socket PATH [--log PATH [--log-max-size BYTES] [--log-max-files N]]\n"
          "       [--exit-file PATH] [--pid-file PATH] [--monitor-pid-file PATH] [--oom-cgroup DIR]\n"
          "       [--tty --console-socket PATH] [--stdin] [--wait-start] [--sync-fd N] [--runtime-fd N]\n"
          "       [--runtime-env NAME=VALUE]... [--volatile] [--runtime-hide FILE] -- RUNTIME_ARGV...\n"
          "       [--then START_ARGV...]\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    const char **target = NULL;
    if (strcmp(a, "--socket") == 0) target = &opt.socket_path;
    else if (strcmp(a, "--log") == 0) target = &opt.log_path;
    else if (strcmp(a, "--exit-file") == 0) target = &opt.exit_file;
    else if (strcmp(a, "--pid-file") == 0) target = &opt.pid_file;
    else if (strcmp(a, "--monitor-pid-file") == 0) target = &opt.monitor_pid_file;
    else if (strcmp(a, "--oom-cgroup") == 0) target = &opt.oom_cgroup;
    else if (strcmp(a, "--console-socket") == 0) target = &opt.console_socket;
    else if (strcmp(a, "--runtime-hide") == 0) target = &opt.runtime_hide;
    else if (strcmp(a, "--tty") == 0) opt.tty = 1;
    else if (strcmp(a, "--stdin") == 0) opt.stdin_enabled = 1;
    else if (strcmp(a, "--wait-start") == 0) opt.wait_start = 1;
    else if (strcmp(a, "--volatile") == 0) opt.volatile_files = 1;
    else if (strcmp(a, "--sync-fd") == 0) {
      if (i + 1 >= argc) usage("--sync-fd needs a value");
      opt.sync_fd = atoi(argv[++i]);
    } else if (strcmp(a, "--runtime-env") == 0) {
      if (i + 1 >= argc) usage("--runtime-env needs a value");
      char *pair = argv[++i];
      if (strchr(pair, '=') == NULL || pair[0] == '=') usage("--runtime-env needs NAME=VALUE");
      if (opt.runtime_env_count >= (int)(sizeof opt.runtime_env / sizeof opt.runtime_env[0])) usage("too many --runtime-env");
      opt.runtime_env[opt.runtime_env_count++] = pair;
    } else if (strcmp(a, "--runtime-fd") == 0) {
      if (i + 1 >= argc) usage("--runtime-fd needs a value");
      opt.runtime_fd = atoi(argv[++i]);
      if (opt.runtime_fd < 3) usage("--runtime-fd must be 3 or more");
    } else if (strcmp(a, "--log-max-size") == 0) {
      if (i + 1 >= argc) usage("--log-max-size needs a value");
      opt.log_max_size = strtoll(argv[++i], NULL, 10);
      if (opt.log_max_size <= 0) usage("--log-max-size must be a positive number of bytes");
    } else if (strcmp(a, "--log-max-files") == 0) {
      if (i + 1 >= argc) usage("--log-max-files needs a value");
      opt.log_max_files = atoi(argv[++i]);
      if (opt.log_max_files < 1) usage("--log-max-files must be at least 1");
    } else {
      usage("unknown option");
    }
    if (target != NULL) {
      if (i + 1 >= argc) usage("option needs a value");
      *target = argv[++i];
    }
  }
  if (opt.sync_fd >= 0 && fcntl(opt.sync_fd, F_GETFD) < 0) opt.sync_fd = -1;
  if (opt.runtime_fd >= 0 && (opt.runtime_fd == opt.sync_fd || fcntl(opt.runtime_fd, F_SETFD, FD_CLOEXEC) != 0)) opt.runtime_fd = -1;
  if (opt.socket_path == NULL) fail_setup("--socket is required");
  if (i >= argc) fail_setup("no runtime command after --");
  if (opt.tty && opt.console_socket == NULL) fail_setup("--tty needs --console-socket");
  opt.runtime_argv = argv + i;
  for (int k = i; k < argc; k++) {
    if (strcmp(argv[k], "--then") != 0) continue;
    if (k == i || k + 1 >= argc) fail_setup("--then needs a runtime command on each side");
    argv[k] = NULL;
    opt.start_argv = argv + k + 1;
    break;
  }
  if (opt.start_argv != NULL && opt.pid_file == NULL) fail_setup("--then needs --pid-file");
}

/* Closes every fd from 3 up except `keep` (ascending, -1 for none). */
static void close_fds_except(const int keep[2]) {
  unsigned next = 3;
  int ok = 1;
  for (int k = 0; k < 2 && ok; k++) {
    if (keep[k] < (int)next) continue;
    if ((unsigned)keep[k] > next) ok = syscall(SYS_close_range, next, (unsigned)keep[k] - 1, 0U) == 0;
    next = (unsigned)keep[k] + 1;
  }
  if (ok && syscall(SYS_close_range, next, ~0U, 0U) == 0) return;
  for (int fd = 3; fd < 4096; fd++) {
    if (fd != keep[0] && fd != keep[1]) close(fd);
  }
}

/* Closes every inherited fd from 3 up except the sync pipe and the runtime's executable. */
static void close_inherited_fds(void) {
  int low = opt.sync_fd < opt.runtime_fd ? opt.sync_fd : opt.runtime_fd;
  int high = opt.sync_fd < opt.runtime_fd ? opt.runtime_fd : opt.sync_fd;
  const int keep[2] = {low, high};
  close_fds_except(keep);
}

static int listen_unix(const char *path, char *error, size_t error_size) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    snprintf(error, error_size, "socket path too long: %s", path);
    return -1;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(error, error_size, "socket: %s", strerror(errno));
    return -1;
  }
  unlink(path); /* a stale socket from an earlier monitor */
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc != 0 || listen(fd, 64) != 0) {
    snprintf(error, error_size, "listen on %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Writes our pid to --monitor-pid-file through a temp file and rename: readers never see half of it. */
static void write_monitor_pid_file(void) {
  if (opt.monitor_pid_file == NULL) return;
  char tmp[PATH_MAX], text[32];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", opt.monitor_pid_file, (int)getpid());
  int length = snprintf(text, sizeof text, "%d\n", (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_setup("open %s: %s", tmp, strerror(errno));
  int ok = write(fd, text, (size_t)length) == length;
  close(fd);
  if (!ok || rename(tmp, opt.monitor_pid_file) != 0) {
    int saved = errno;
    unlink(tmp);
    fail_setup("write %s: %s", opt.monitor_pid_file, strerror(saved));
  }
}

/* Forks; the parent leaves at once (after reaping the child when `reap`), the child goes on. */
static void fork_and_leave(int reap) {
  pid_t child = fork();
  if (child < 0) fail_setup("fork: %s", strerror(errno));
  if (child == 0) return;
  if (reap) waitpid(child, NULL, 0);
  _exit(0);
}

/*
 * A session of our own, then one fork: the child is no session leader (it can never get a
 * controlling terminal) and, its parent gone, nobody's child but init's (or a subreaper's).
 * One fork, not the classic two: each costs the copy-on-write faults of a process (~1 ms
 * of CPU in this kind of VM), on every container start. A process group leader cannot
 * start a session, so it forks first and its child does.
 */
static void detach(void) {
  if (setsid() < 0) {
    fork_and_leave(1);
    if (setsid() < 0) fail_setup("setsid: %s", strerror(errno));
  }
  fork_and_leave(0);
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  close_inherited_fds();
  reset_ignored_signals();
  detach();

  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail_setup("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) fail_setup("signalfd: %s", strerror(errno));

  /* stdio of the monitor itself goes nowhere: errors travel through the sync pipe. */
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    if (null_fd > 2) close(null_fd);
  }

  if (opt.log_path != NULL) {
    /* Read-write: log_start_file reads the header of a file it appends to. */
    log_fd = open(opt.log_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) fail_setup("open log %s: %s", opt.log_path, strerror(errno));
    struct stat st;
    if (fstat(log_fd, &st) == 0) log_size = st.st_size;
    log_start_file();
  }
  char error[512];
  if (opt.tty) {
    console_listen_fd = listen_unix(opt.console_socket, error, sizeof error);
    if (console_listen_fd < 0) fail_setup("%s", error);
  }
  listen_fd = listen_unix(opt.socket_path, error, sizeof error);
  if (listen_fd < 0) fail_setup("%s", error);

  write_monitor_pid_file();
  /* The version tells the daemon that this binary speaks its protocol (a stale build does not). */
  sync_message("ready %d\n", PROTOCOL_VERSION);
  if (!opt.wait_start) start_runtime();
  event_loop();

  /* Socket first: the daemon treats a task dir without sockets as free of monitors. */
  unlink(opt.socket_path);
  for (int i = client_count - 1; i >= 0; i--) drop_client(i);
  if (console_listen_fd >= 0) unlink(opt.console_socket);
  if (log_fd >= 0 && !opt.volatile_files) fsync(log_fd);
  /* Last: while the pid file exists the daemon may look for this process. */
  if (opt.monitor_pid_file != NULL) unlink(opt.monitor_pid_file);
  return 0;
}
