#ifndef BERTH_SANDBOX_H
#define BERTH_SANDBOX_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* One veth pair of a new sandbox: `ifname` inside it, `peer` in the caller's namespace on `master`. */
struct sandbox_link {
  char ifname[IF_NAMESIZE];
  char peer[IF_NAMESIZE];
  char master[IF_NAMESIZE];
  unsigned char mac[6];
  uint32_t mtu;             /* 0: the kernel's default */
  struct in_addr address;
  uint8_t prefix_len;
  struct in_addr gateway;   /* INADDR_ANY: no default route through this link */
};

/* Where a sandbox_create failed: the errno and the step ("unshare", "RTM_NEWLINK", ...) with its object. */
struct sandbox_error {
  int err;
  char step[32];
  char object[32];
};

/*
 * Makes a network namespace bind-mounted on `file` (an existing empty file), with loopback up
 * and each link's veth pair: the container end named, addressed and up in it (and the default
 * route through the link that has a gateway), the peer in the caller's namespace, on its master
 * bridge and up. Runs on a thread of its own (the namespace change is per thread), so the
 * calling thread's namespace never changes. 0, or -1 with `error` set; the mount stays on
 * failure (the caller unmounts the file, and the half-made pair goes with the namespace).
 */
int sandbox_create(const char *file, const struct sandbox_link *links, size_t count, struct sandbox_error *error);

/* rtnetlink RTM_DELLINK of `name` in the caller's namespace: 0, or an errno (ENODEV: no such device). */
int sandbox_link_delete(const char *name);

#endif
