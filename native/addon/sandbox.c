/*
 * A container's network namespace made in-process: what `unshare --net=<file>` followed by
 * `ip -batch` (lo up, veth pair with its peer moved out, address, up, default route) and
 * `ip link set <peer> master <bridge> up` do, as rtnetlink requests from a thread of our own,
 * without spawning a process per container start.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---------- rtnetlink messages ---------- */

struct nl_message {
  union {
    struct nlmsghdr header;
    char buffer[1024];
  };
};

static void nl_init(struct nl_message *m, uint16_t type, uint16_t flags) {
  memset(m, 0, sizeof *m);
  m->header.nlmsg_len = NLMSG_LENGTH(0);
  m->header.nlmsg_type = type;
  m->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* Appends `size` bytes (zeroed unless `data`), aligned; where they went. */
static void *nl_put(struct nl_message *m, const void *data, size_t size) {
  char *at = m->buffer + NLMSG_ALIGN(m->header.nlmsg_len);
  if (data) memcpy(at, data, size);
  else memset(at, 0, size);
  m->header.nlmsg_len = NLMSG_ALIGN(m->header.nlmsg_len) + size;
  return at;
}

static struct rtattr *nl_attr(struct nl_message *m, unsigned short type, const void *data, size_t size) {
  struct rtattr *attribute = (struct rtattr *)(m->buffer + NLMSG_ALIGN(m->header.nlmsg_len));
  attribute->rta_type = type;
  attribute->rta_len = RTA_LENGTH(size);
  if (size > 0 && data != NULL) memcpy(RTA_DATA(attribute), data, size);
  m->header.nlmsg_len = NLMSG_ALIGN(m->header.nlmsg_len) + RTA_ALIGN(attribute->rta_len);
  return attribute;
}

static void nl_attr_u32(struct nl_message *m, unsigned short type, uint32_t value) {
  nl_attr(m, type, &value, sizeof value);
}

static void nl_attr_string(struct nl_message *m, unsigned short type, const char *value) {
  nl_attr(m, type, value, strlen(value) + 1);
}

static void nl_nest_end(struct nl_message *m, struct rtattr *nest) {
  nest->rta_len = (unsigned short)(m->buffer + m->header.nlmsg_len - (char *)nest);
}

/* Sends the request and reads its acknowledgement: 0 or an errno. */
static int nl_talk(int fd, struct nl_message *m) {
  static __thread uint32_t sequence;
  m->header.nlmsg_seq = ++sequence;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, m->buffer, m->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return errno;
  char answer[4096];
  for (;;) {
    ssize_t n = recv(fd, answer, sizeof answer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)answer; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != m->header.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR) continue;
      return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static int nl_socket(void) {
  return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/* ---------- the steps ---------- */

static int fail(struct sandbox_error *error, int err, const char *step, const char *object) {
  error->err = err;
  snprintf(error->step, sizeof error->step, "%s", step);
  snprintf(error->object, sizeof error->object, "%s", object ? object : "");
  return -1;
}

/* `ip link set dev <index|name> [master <m>] up`. */
static int link_up(int fd, int index, const char *name, int master) {
  struct nl_message m;
  nl_init(&m, RTM_NEWLINK, 0);
  struct ifinfomsg info = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  nl_put(&m, &info, sizeof info);
  if (index == 0) nl_attr_string(&m, IFLA_IFNAME, name);
  if (master > 0) nl_attr_u32(&m, IFLA_MASTER, (uint32_t)master);
  return nl_talk(fd, &m);
}

/* `ip link add <ifname> address <mac> type veth peer name <peer> netns <host>`. */
static int veth_add(int fd, const struct sandbox_link *link, int host_netns) {
  struct nl_message m;
  nl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct ifinfomsg info = {.ifi_family = AF_UNSPEC};
  nl_put(&m, &info, sizeof info);
  nl_attr_string(&m, IFLA_IFNAME, link->ifname);
  nl_attr(&m, IFLA_ADDRESS, link->mac, sizeof link->mac);
  if (link->mtu > 0) nl_attr_u32(&m, IFLA_MTU, link->mtu);
  struct rtattr *linkinfo = nl_attr(&m, IFLA_LINKINFO, NULL, 0);
  nl_attr_string(&m, IFLA_INFO_KIND, "veth");
  struct rtattr *data = nl_attr(&m, IFLA_INFO_DATA, NULL, 0);
  struct rtattr *peer = nl_attr(&m, VETH_INFO_PEER, NULL, 0);
  struct ifinfomsg peer_info = {.ifi_family = AF_UNSPEC};
  nl_put(&m, &peer_info, sizeof peer_info);
  nl_attr_string(&m, IFLA_IFNAME, link->peer);
  if (link->mtu > 0) nl_attr_u32(&m, IFLA_MTU, link->mtu);
  nl_attr_u32(&m, IFLA_NET_NS_FD, (uint32_t)host_netns);
  nl_nest_end(&m, peer);
  nl_nest_end(&m, data);
  nl_nest_end(&m, linkinfo);
  return nl_talk(fd, &m);
}

/* `ip addr add <address>/<prefix> dev <index>`. */
static int address_add(int fd, int index, const struct sandbox_link *link) {
  struct nl_message m;
  nl_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  struct ifaddrmsg info = {.ifa_family = AF_INET, .ifa_prefixlen = link->prefix_len, .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (unsigned)index};
  nl_put(&m, &info, sizeof info);
  nl_attr(&m, IFA_LOCAL, &link->address, sizeof link->address);
  nl_attr(&m, IFA_ADDRESS, &link->address, sizeof link->address);
  return nl_talk(fd, &m);
}

/* `ip route replace default via <gateway> dev <index>`. */
static int default_route(int fd, int index, const struct sandbox_link *link) {
  struct nl_message m;
  nl_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  struct rtmsg info = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST};
  nl_put(&m, &info, sizeof info);
  nl_attr(&m, RTA_GATEWAY, &link->gateway, sizeof link->gateway);
  nl_attr_u32(&m, RTA_OIF, (uint32_t)index);
  return nl_talk(fd, &m);
}

/* ---------- the thread ---------- */

struct sandbox_job {
  const char *file;
  const struct sandbox_link *links;
  size_t count;
  struct sandbox_error *error;
  int result;
};

static int configure(int fd, int host_fd, int host_netns, const struct sandbox_job *job, const int *masters) {
  struct sandbox_error *error = job->error;
  int err = link_up(fd, 1, "", 0); /* loopback is ifindex 1 in every namespace */
  if (err) return fail(error, err, "RTM_NEWLINK", "lo");
  for (size_t i = 0; i < job->count; i++) {
    const struct sandbox_link *link = &job->links[i];
    if ((err = veth_add(fd, link, host_netns))) return fail(error, err, "RTM_NEWLINK", link->ifname);
    int index = (int)if_nametoindex(link->ifname);
    if (index == 0) return fail(error, errno, "if_nametoindex", link->ifname);
    if ((err = address_add(fd, index, link))) return fail(error, err, "RTM_NEWADDR", link->ifname);
    if ((err = link_up(fd, index, "", 0))) return fail(error, err, "RTM_NEWLINK", link->ifname);
    if (link->gateway.s_addr != INADDR_ANY && (err = default_route(fd, index, link))) return fail(error, err, "RTM_NEWROUTE", link->ifname);
    /* The peer is in the host's namespace: by name there (this thread is not). */
    if ((err = link_up(host_fd, 0, link->peer, masters[i]))) return fail(error, err, "RTM_NEWLINK", link->peer);
  }
  return 0;
}

static void *sandbox_thread(void *argument) {
  struct sandbox_job *job = argument;
  struct sandbox_error *error = job->error;
  job->result = -1;
  int masters[job->count > 0 ? job->count : 1];
  int host_fd = -1, host_netns = -1, fd = -1;
  char self[64];
  snprintf(self, sizeof self, "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
  /* What lives in the host's namespace is opened before this thread leaves it. */
  for (size_t i = 0; i < job->count; i++) {
    masters[i] = (int)if_nametoindex(job->links[i].master);
    if (masters[i] == 0) {
      fail(error, errno, "if_nametoindex", job->links[i].master);
      return NULL;
    }
  }
  if ((host_fd = nl_socket()) < 0) {
    fail(error, errno, "socket", NULL);
    goto out;
  }
  if ((host_netns = open(self, O_RDONLY | O_CLOEXEC)) < 0) {
    fail(error, errno, "open", "ns/net");
    goto out;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    fail(error, errno, "unshare", NULL);
    goto out;
  }
  if (mount(self, job->file, NULL, MS_BIND, NULL) != 0) {
    fail(error, errno, "mount", NULL);
    goto out;
  }
  if ((fd = nl_socket()) < 0) {
    fail(error, errno, "socket", NULL);
    goto out;
  }
  job->result = configure(fd, host_fd, host_netns, job, masters);
out:
  if (fd >= 0) close(fd);
  if (host_netns >= 0) close(host_netns);
  if (host_fd >= 0) close(host_fd);
  return NULL;
}

int sandbox_create(const char *file, const struct sandbox_link *links, size_t count, struct sandbox_error *error) {
  struct sandbox_job job = {.file = file, .links = links, .count = count, .error = error, .result = -1};
  memset(error, 0, sizeof *error);
  pthread_t thread;
  int err = pthread_create(&thread, NULL, sandbox_thread, &job);
  if (err != 0) return fail(error, err, "pthread_create", NULL);
  pthread_join(thread, NULL);
  return job.result;
}

int sandbox_link_delete(const char *name) {
  int index = (int)if_nametoindex(name);
  if (index == 0) return ENODEV;
  int fd = nl_socket();
  if (fd < 0) return errno;
  struct nl_message m;
  nl_init(&m, RTM_DELLINK, 0);
  struct ifinfomsg info = {.ifi_family = AF_UNSPEC, .ifi_index = index};
  nl_put(&m, &info, sizeof info);
  int err = nl_talk(fd, &m);
  close(fd);
  return err;
}
