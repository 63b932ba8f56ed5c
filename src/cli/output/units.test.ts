import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, containerStatusText, humanDuration, humanSize, parseGoDuration, parseMemoryBytes, shortId } from './units';

test('humanSize matches go-units', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(humanSize(1234567), '1.235MB');
  assert.equal(humanSize(1982000, 3), '1.98MB');
  assert.equal(humanSize(10_000_000), '10MB');
  assert.equal(bytesSize(1536 * 1024 * 1024), '1.5GiB');
});

test('humanDuration matches go-units', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(3000), '3 seconds');
  assert.equal(humanDuration(90_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3_600_000), '5 hours');
  assert.equal(humanDuration(3 * 86_400_000), '3 days');
  assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
  assert.equal(humanDuration(90 * 86_400_000), '3 months');
  assert.equal(humanDuration(800 * 86_400_000), '2 years');
});

test('container status text like moby State.String()', () => {
  const now = Date.parse('2024-01-01T00:10:00Z');
  const base = { Running: false, Paused: false, Restarting: false, Dead: false, ExitCode: 0, StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' };
  assert.equal(containerStatusText(base, now), 'Created');
  assert.equal(containerStatusText({ ...base, Running: true, StartedAt: '2024-01-01T00:09:57Z' }, now), 'Up 3 seconds');
  assert.equal(containerStatusText({ ...base, Running: true, Paused: true, StartedAt: '2024-01-01T00:09:57Z' }, now), 'Up 3 seconds (Paused)');
  assert.equal(containerStatusText({ ...base, ExitCode: 2, StartedAt: '2024-01-01T00:00:00Z', FinishedAt: '2024-01-01T00:08:00Z' }, now), 'Exited (2) 2 minutes ago');
});

test('ids, durations, memory sizes', () => {
  assert.equal(shortId('sha256:0123456789abcdef0123'), '0123456789ab');
  assert.equal(parseGoDuration('1h30m'), 5_400_000);
  assert.equal(parseGoDuration('10s'), 10_000);
  assert.equal(parseGoDuration('abc'), undefined);
  assert.equal(parseMemoryBytes('512m'), 512 * 1024 * 1024);
  assert.equal(parseMemoryBytes('1g'), 1024 ** 3);
  assert.equal(parseMemoryBytes('100'), 100);
});
