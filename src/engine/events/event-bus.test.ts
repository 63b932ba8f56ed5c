import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from './event-bus';

describe('EventBus', () => {
  it('replays history since a time, then ends at `until` even when nothing happens', async () => {
    const bus = new EventBus();
    const sinceNs = Date.now() * 1_000_000 - 1;
    bus.publish('container', 'create', 'c1', { name: 'one' });
    bus.publish('image', 'tag', 'i1', {});
    const untilNs = (Date.now() + 80) * 1_000_000;
    const started = Date.now();
    const seen: string[] = [];
    for await (const event of bus.subscribe({ sinceNs, untilNs, filters: { type: ['container'] } })) seen.push(event.Action);
    const elapsed = Date.now() - started;
    assert.deepEqual(seen, ['create']);
    assert.ok(elapsed >= 70 && elapsed < 1000, `ended after ${elapsed} ms`);
  });

  it('streams live events that match the filters', async () => {
    const bus = new EventBus();
    const controller = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const event of bus.subscribe({ filters: { container: ['web'] }, signal: controller.signal })) {
        seen.push(event.Action);
        if (seen.length === 2) controller.abort();
      }
    })();
    bus.publish('container', 'start', 'a1', { name: 'other' });
    bus.publish('container', 'start', 'b2', { name: 'web' });
    bus.publish('container', 'die', 'b2', { name: 'web' });
    await done;
    assert.deepEqual(seen, ['start', 'die']);
  });
});
