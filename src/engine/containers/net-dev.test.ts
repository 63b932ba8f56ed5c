import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetDev } from './net-dev';

/** /proc/<pid>/net/dev as the kernel writes it (a container's namespace: lo and its veth end). */
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     672       8    0    0    0     0          0         0      672       8    0    0    0     0       0          0
  eth0:   12606      98    1    2    0     0          0         0     3950      41    3    4    0     0       0          0
`;

test('net/dev: every interface but lo, with the receive and transmit counters moby reports', () => {
  assert.deepEqual(parseNetDev(NET_DEV), {
    eth0: { rx_bytes: 12606, rx_packets: 98, rx_errors: 1, rx_dropped: 2, tx_bytes: 3950, tx_packets: 41, tx_errors: 3, tx_dropped: 4 },
  });
  assert.deepEqual(parseNetDev(''), {});
});
