import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Health, HealthLogEntry } from '../../api/types/containers';
import { goDuration, mergeHealthcheck, probeSettings } from './health-config';
import { applyProbeResult, healthAtStart, nextIntervalMs } from './health-state';

const STARTED = '2026-01-01T00:00:00Z';
const at = (seconds: number, exitCode: number): HealthLogEntry => {
  const t = new Date(Date.parse(STARTED) + seconds * 1000).toISOString();
  return { Start: t, End: t, ExitCode: exitCode, Output: `probe at ${seconds}s` };
};

test('probe settings: CMD runs as is, CMD-SHELL through the config Shell or /bin/sh -c, NONE and an empty test run nothing', () => {
  assert.deepEqual(probeSettings({ Healthcheck: { Test: ['CMD', 'curl', '-f', 'x'] } })?.command, ['curl', '-f', 'x']);
  assert.deepEqual(probeSettings({ Healthcheck: { Test: ['CMD-SHELL', 'exit 1'] } })?.command, ['/bin/sh', '-c', 'exit 1']);
  assert.deepEqual(probeSettings({ Healthcheck: { Test: ['CMD-SHELL', 'exit 1'] }, Shell: ['/bin/bash', '-ec'] })?.command, ['/bin/bash', '-ec', 'exit 1']);
  assert.equal(probeSettings({ Healthcheck: { Test: ['NONE'] } }), undefined);
  assert.equal(probeSettings({ Healthcheck: { Test: [] } }), undefined);
  assert.equal(probeSettings({}), undefined);
});

test("probe settings take moby's defaults for zero values: 30s interval and timeout, 5s start interval, 3 retries", () => {
  const settings = probeSettings({ Healthcheck: { Test: ['CMD', 'true'], Interval: 0, Retries: 0 } });
  assert.deepEqual(settings, { command: ['true'], intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 });
  const set = probeSettings({ Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9, Timeout: 5e8, StartPeriod: 2e9, StartInterval: 1e8, Retries: 2 } });
  assert.deepEqual(set, { command: ['true'], intervalMs: 1000, timeoutMs: 500, startPeriodMs: 2000, startIntervalMs: 100, retries: 2 });
});

test("a create request's health check takes the image's for what it leaves unset", () => {
  const image = { Test: ['CMD', 'img'], Interval: 5e9, Retries: 7 };
  assert.deepEqual(mergeHealthcheck(undefined, image), image);
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, image)?.Test, ['NONE']);
  assert.deepEqual(mergeHealthcheck({ Interval: 1e9 }, image), { Test: ['CMD', 'img'], Interval: 1e9, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 7 });
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
});

test("timeouts are written as Go's Duration.String()", () => {
  assert.equal(goDuration(500), '500ms');
  assert.equal(goDuration(1000), '1s');
  assert.equal(goDuration(1500), '1.5s');
  assert.equal(goDuration(90_000), '1m30s');
  assert.equal(goDuration(3_600_000), '1h0m0s');
});

test('a success makes it healthy and clears the streak; retries failures in a row make it unhealthy', () => {
  const settings = { retries: 2, startPeriodMs: 0 };
  let h: Health = healthAtStart(undefined);
  h = applyProbeResult(h, at(1, 1), settings, STARTED);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
  h = applyProbeResult(h, at(2, 1), settings, STARTED);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = applyProbeResult(h, at(3, 0), settings, STARTED);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  h = applyProbeResult(h, at(4, -1), settings, STARTED);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1], 'one failure (a timeout: -1) leaves it healthy');
});

test('failures within the start period do not count while starting; they do once it was healthy', () => {
  const settings = { retries: 1, startPeriodMs: 10_000 };
  let h = applyProbeResult(healthAtStart(undefined), at(3, 1), settings, STARTED);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
  h = applyProbeResult(h, at(4, 0), settings, STARTED);
  h = applyProbeResult(h, at(5, 1), settings, STARTED);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 1]);
  const late = applyProbeResult(healthAtStart(undefined), at(11, 1), settings, STARTED);
  assert.deepEqual([late.Status, late.FailingStreak], ['unhealthy', 1]);
});

test('the log keeps the last 5 probes, and a restart keeps the log but starts over', () => {
  let h: Health = healthAtStart(undefined);
  for (let i = 1; i <= 7; i++) h = applyProbeResult(h, at(i, 0), { retries: 3, startPeriodMs: 0 }, STARTED);
  assert.deepEqual(h.Log.map((e) => e.Output), [3, 4, 5, 6, 7].map((i) => `probe at ${i}s`));
  const again = healthAtStart({ ...h, Status: 'unhealthy', FailingStreak: 4 });
  assert.deepEqual([again.Status, again.FailingStreak, again.Log.length], ['starting', 0, 5]);
});

test('the start interval applies while starting within the start period, the interval otherwise', () => {
  const settings = { intervalMs: 30_000, startPeriodMs: 10_000, startIntervalMs: 1_000 };
  const now = Date.parse(STARTED) + 5_000;
  assert.equal(nextIntervalMs(healthAtStart(undefined), settings, STARTED, now), 1_000);
  assert.equal(nextIntervalMs({ Status: 'healthy', FailingStreak: 0, Log: [] }, settings, STARTED, now), 30_000);
  assert.equal(nextIntervalMs(healthAtStart(undefined), settings, STARTED, now + 10_000), 30_000);
});
