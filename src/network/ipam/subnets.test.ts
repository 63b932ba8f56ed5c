import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contains, firstFreeAddress, formatIPv4, formatSubnet, macForAddress, overlaps, parseIPv4, parseSubnet, pickSubnet } from './subnets';

test('parses and formats IPv4 prefixes as dockerd does (host bits cleared)', () => {
  assert.equal(formatSubnet(parseSubnet('10.1.2.3/16')), '10.1.0.0/16');
  assert.equal(formatSubnet(parseSubnet('0.0.0.0/0')), '0.0.0.0/0');
  for (const bad of ['10.0.0.0/33', '10.0.0/24', '256.0.0.0/8', '10.0.0.0', '10.0.0.0/x', 'fd00::/64']) {
    assert.throws(() => parseSubnet(bad), /invalid subnet/, bad);
  }
  assert.equal(parseIPv4('1.2.3.256'), undefined);
  assert.equal(formatIPv4(parseIPv4('192.168.0.255')!), '192.168.0.255');
});

test('overlap and containment', () => {
  assert.ok(overlaps(parseSubnet('10.0.0.0/8'), parseSubnet('10.9.0.0/24')));
  assert.ok(overlaps(parseSubnet('10.9.0.128/25'), parseSubnet('10.9.0.0/24')));
  assert.ok(!overlaps(parseSubnet('10.9.1.0/24'), parseSubnet('10.9.0.0/24')));
  assert.ok(contains(parseSubnet('172.17.0.0/16'), parseIPv4('172.17.255.254')!));
  assert.ok(!contains(parseSubnet('172.17.0.0/16'), parseIPv4('172.18.0.1')!));
});

test("picks Docker's default pools in order, skipping taken prefixes and host routes", () => {
  assert.equal(formatSubnet(pickSubnet([])!), '172.17.0.0/16');
  assert.equal(formatSubnet(pickSubnet([parseSubnet('172.17.0.0/16'), parseSubnet('172.18.5.0/24')])!), '172.19.0.0/16');
  // A host route covering every 172.16/12 pool: on to 192.168.0.0/20.
  assert.equal(formatSubnet(pickSubnet([parseSubnet('172.16.0.0/12')])!), '192.168.0.0/20');
  assert.equal(pickSubnet([parseSubnet('0.0.0.0/0')]), undefined);
});

test('allocates the lowest free address inside the range, never the network or broadcast address', () => {
  const subnet = parseSubnet('10.0.0.0/30');
  const used = new Set([parseIPv4('10.0.0.1')!]);
  assert.equal(formatIPv4(firstFreeAddress(subnet, subnet, used)!), '10.0.0.2');
  used.add(parseIPv4('10.0.0.2')!);
  assert.equal(firstFreeAddress(subnet, subnet, used), undefined);
  const big = parseSubnet('10.1.0.0/16');
  assert.equal(formatIPv4(firstFreeAddress(big, parseSubnet('10.1.5.0/24'), new Set())!), '10.1.5.0');
  assert.equal(macForAddress(parseIPv4('172.17.0.2')!), '02:42:ac:11:00:02');
});
