import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Mount, SnapshotInfo, Snapshotter } from './types';
import { mountAll, unmountAll } from './mount';
import { errorKind, errnoCode } from '../errors';

export interface SnapshotterFixture {
  snapshotter: Snapshotter;
  /** An empty scratch directory for mount points. */
  scratch: string;
  /** Opens the same store again, as a restarted daemon would (the old instance is no longer used). */
  reopen(): Promise<Snapshotter>;
  cleanup(): Promise<void>;
}

const kindOf = (expected: string) => (err: unknown) => {
  assert.equal(errorKind(err), expected, String(err));
  return true;
};

/**
 * The conformance suite every Snapshotter must pass (containerd's snapshots/testsuite in
 * spirit), with real mounts: each mounts what the snapshotter returns and looks through it.
 * `factory` returns a fresh, empty snapshotter.
 */
export function runSnapshotterSuite(name: string, factory: () => Promise<SnapshotterFixture>, options: { skip?: string | false } = {}): void {
  describe(`Snapshotter conformance: ${name}`, { skip: options.skip }, () => {
    let fx: SnapshotterFixture;
    let sn: Snapshotter;
    let targets = 0;
    before(async () => {
      fx = await factory();
      sn = fx.snapshotter;
    });
    after(async () => {
      await fx.cleanup();
    });

    /** Mounts, runs `fn` on the mount point, always unmounts. */
    async function withMounted<T>(mounts: Mount[], fn: (root: string) => Promise<T>): Promise<T> {
      const target = path.join(fx.scratch, `m${targets++}`);
      await fs.mkdir(target);
      mountAll(mounts, target);
      try {
        return await fn(target);
      } finally {
        await unmountAll(target);
        await fs.rmdir(target);
      }
    }

    /** prepare → write through the mount → commit. */
    async function layer(name: string, parent: string | null, write: (root: string) => Promise<void>): Promise<SnapshotInfo> {
      const key = `${name}-active`;
      await withMounted(await sn.prepare(key, parent), write);
      return sn.commit(name, key);
    }

    async function tree(root: string): Promise<string[]> {
      const out: string[] = [];
      async function visit(dir: string, rel: string): Promise<void> {
        for (const n of (await fs.readdir(dir)).sort()) {
          const r = rel === '' ? n : `${rel}/${n}`;
          const st = await fs.lstat(path.join(dir, n));
          if (st.isDirectory()) {
            out.push(`${r}/`);
            await visit(path.join(dir, n), r);
          } else if (st.isFile()) out.push(`${r}=${await fs.readFile(path.join(dir, n), 'utf8')}`);
          else out.push(`${r}@`);
        }
      }
      await visit(root, '');
      return out;
    }

    it('prepare on nothing, write, commit: the key becomes the committed name', async () => {
      const base = await layer('base', null, async (root) => {
        await fs.mkdir(path.join(root, 'etc'));
        await fs.writeFile(path.join(root, 'etc/hostname'), 'base\n');
        await fs.mkdir(path.join(root, 'opt'));
        await fs.writeFile(path.join(root, 'opt/a'), 'a');
        await fs.writeFile(path.join(root, 'opt/b'), 'b');
        await fs.writeFile(path.join(root, 'gone'), 'soon');
      });
      assert.equal(base.name, 'base');
      assert.equal(base.kind, 'committed');
      assert.equal(base.parent, null);
      assert.equal((await sn.stat('base')).kind, 'committed');
      await assert.rejects(sn.stat('base-active'), kindOf('NotFound'));
      await assert.rejects(sn.mounts('base'), kindOf('FailedPrecondition'));
    });

    it('a chain: deletions and a replaced directory (whiteout, opaque) show through the mounts', async () => {
      await withMounted(await sn.prepare('top-active', 'base'), async (root) => {
        assert.deepEqual(await tree(root), ['etc/', 'etc/hostname=base\n', 'gone=soon', 'opt/', 'opt/a=a', 'opt/b=b']);
        await fs.rm(path.join(root, 'gone'));
        await fs.rm(path.join(root, 'opt'), { recursive: true });
        await fs.mkdir(path.join(root, 'opt'));
        await fs.writeFile(path.join(root, 'opt/c'), 'c');
        await fs.writeFile(path.join(root, 'etc/hostname'), 'top\n');
      });
      const top = await sn.commit('top', 'top-active');
      assert.equal(top.parent, 'base');
      const expected = ['etc/', 'etc/hostname=top\n', 'opt/', 'opt/c=c'];
      await withMounted(await sn.view('top-view', 'top'), async (root) => assert.deepEqual(await tree(root), expected));
      // One more layer: what the middle one deleted stays deleted.
      await layer('third', 'top', async (root) => {
        assert.deepEqual(await tree(root), expected);
        await fs.writeFile(path.join(root, 'opt/d'), 'd');
      });
      await withMounted(await sn.view('third-view', 'third'), async (root) => assert.deepEqual(await tree(root), [...expected, 'opt/d=d']));
      // The base is unchanged underneath.
      await withMounted(await sn.view('base-view', 'base'), async (root) => assert.ok((await tree(root)).includes('gone=soon')));
      for (const key of ['top-view', 'third-view', 'base-view']) await sn.remove(key);
    });

    it('a view is read-only, at every depth', async () => {
      for (const parent of [null, 'base', 'third']) {
        const mounts = await sn.view('ro-view', parent);
        assert.equal((await sn.stat('ro-view')).kind, 'view');
        await withMounted(mounts, async (root) => {
          await assert.rejects(fs.writeFile(path.join(root, 'new-file'), 'x'), (err: unknown) => errnoCode(err) === 'EROFS');
        });
        assert.deepEqual(await sn.mounts('ro-view'), mounts);
        await assert.rejects(sn.commit('from-view', 'ro-view'), kindOf('FailedPrecondition'));
        await sn.remove('ro-view');
      }
    });

    it('an active snapshot can be mounted again and keeps its changes', async () => {
      await withMounted(await sn.prepare('again', 'base'), (root) => fs.writeFile(path.join(root, 'kept'), 'yes'));
      await withMounted(await sn.mounts('again'), async (root) => assert.equal(await fs.readFile(path.join(root, 'kept'), 'utf8'), 'yes'));
      await sn.remove('again');
      await assert.rejects(sn.stat('again'), kindOf('NotFound'));
    });

    it('refuses bad requests with the right kind of error', async () => {
      await assert.rejects(sn.commit('x', 'no-such-key'), kindOf('NotFound'));
      await assert.rejects(sn.prepare('p', 'no-such-parent'), kindOf('NotFound'));
      await assert.rejects(sn.prepare('base', null), kindOf('AlreadyExists'));
      await sn.prepare('busy', 'base');
      await assert.rejects(sn.prepare('on-active', 'busy'), kindOf('FailedPrecondition'));
      await assert.rejects(sn.commit('base', 'busy'), kindOf('AlreadyExists'));
      assert.equal((await sn.stat('busy')).kind, 'active', 'a refused commit leaves the active snapshot');
      await sn.remove('busy');
      await assert.rejects(sn.remove('busy'), kindOf('NotFound'));
      await assert.rejects(sn.mounts('no-such-key'), kindOf('NotFound'));
      await assert.rejects(sn.usage('no-such-key'), kindOf('NotFound'));
      await assert.rejects(sn.prepare('', null), kindOf('InvalidArgument'));
    });

    it('remove refuses a parent with children, then works once they are gone', async () => {
      await layer('parent', null, (root) => fs.writeFile(path.join(root, 'p'), 'p'));
      await sn.prepare('child', 'parent');
      await assert.rejects(sn.remove('parent'), kindOf('FailedPrecondition'));
      await sn.view('child-view', 'parent');
      await sn.remove('child');
      await assert.rejects(sn.remove('parent'), kindOf('FailedPrecondition'));
      await sn.remove('child-view');
      await sn.remove('parent');
      await assert.rejects(sn.stat('parent'), kindOf('NotFound'));
    });

    it('usage counts a snapshot’s own files, once per inode', async () => {
      await withMounted(await sn.prepare('usage-active', 'base'), async (root) => {
        await fs.writeFile(path.join(root, 'big'), Buffer.alloc(100_000, 1));
        await fs.link(path.join(root, 'big'), path.join(root, 'big-link'));
        await fs.mkdir(path.join(root, 'dir'));
      });
      const active = await sn.usage('usage-active');
      assert.equal(active.size, 100_000);
      assert.equal(active.inodes, 2);
      await sn.commit('usage', 'usage-active');
      assert.deepEqual(await sn.usage('usage'), active);
      assert.deepEqual(await sn.usage((await sn.prepare('usage-empty', 'usage')) && 'usage-empty'), { size: 0, inodes: 0 });
      await sn.remove('usage-empty');
      await sn.remove('usage');
    });

    it('labels: an active snapshot keeps its own, a commit sets the committed one’s; walk sees every snapshot', async () => {
      await sn.prepare('labelled-active', 'base', { labels: { a: '1' } });
      assert.deepEqual((await sn.stat('labelled-active')).labels, { a: '1' });
      const info = await sn.commit('labelled', 'labelled-active', { labels: { b: '2' } });
      assert.deepEqual(info.labels, { b: '2' });
      await sn.prepare('walk-active', 'labelled');
      await sn.view('walk-view', 'labelled');
      const seen = new Map<string, SnapshotInfo>();
      await sn.walk((i) => {
        seen.set(i.name, i);
      });
      assert.equal(seen.get('labelled')?.kind, 'committed');
      assert.deepEqual(seen.get('labelled')?.labels, { b: '2' });
      assert.equal(seen.get('walk-active')?.kind, 'active');
      assert.equal(seen.get('walk-active')?.parent, 'labelled');
      assert.equal(seen.get('walk-view')?.kind, 'view');
      assert.ok(seen.has('base') && seen.has('top') && seen.has('third'));
      assert.ok(info.created > 0 && info.updated >= info.created);
    });

    it('everything survives a restart', async () => {
      const before = new Map<string, SnapshotInfo>();
      await sn.walk((i) => {
        before.set(i.name, i);
      });
      sn = await fx.reopen();
      const after = new Map<string, SnapshotInfo>();
      await sn.walk((i) => {
        after.set(i.name, i);
      });
      assert.deepEqual(after, before);
      await withMounted(await sn.view('after-restart', 'third'), async (root) => {
        assert.deepEqual(await tree(root), ['etc/', 'etc/hostname=top\n', 'opt/', 'opt/c=c', 'opt/d=d']);
      });
      await sn.remove('after-restart');
      await withMounted(await sn.mounts('walk-active'), async (root) => assert.ok((await fs.readdir(root)).includes('etc')));
    });

    it('many layers mount at once', async () => {
      let parent: string | null = null;
      for (let i = 0; i < 60; i++) {
        parent = (await layer(`tall-${i}`, parent, (root) => fs.writeFile(path.join(root, `f${i}`), String(i)))).name;
      }
      await withMounted(await sn.prepare('tall-active', parent), async (root) => assert.equal((await fs.readdir(root)).length, 60));
      await sn.remove('tall-active');
      for (let i = 59; i >= 0; i--) await sn.remove(`tall-${i}`);
    });
  });
}
