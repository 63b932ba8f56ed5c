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

  it("event=health_status, exec_create and exec_start match by prefix (moby #25798); other event filters match exactly", async () => {
    const bus = new EventBus();
    const sinceNs = Date.now() * 1_000_000 - 1;
    bus.publish('container', 'health_status: healthy', 'c1', {});
    bus.publish('container', 'exec_create: sh -c true', 'c1', {});
    bus.publish('container', 'exec_die', 'c1', {});
    const untilNs = Date.now() * 1_000_000 + 1_000_000;
    const actions = async (event: string[]) => {
      const seen: string[] = [];
      for await (const e of bus.subscribe({ sinceNs, untilNs, filters: { event } })) seen.push(e.Action);
      return seen;
    };
    assert.deepEqual(await actions(['health_status']), ['health_status: healthy']);
    assert.deepEqual(await actions(['exec_create']), ['exec_create: sh -c true']);
    assert.deepEqual(await actions(['exec_']), []);
    assert.deepEqual(await actions(['exec_die']), ['exec_die']);
  });
});
