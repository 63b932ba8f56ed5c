import * as path from 'node:path';
import { chainIds } from '../../util/digest';
import type { ImageRunConfig } from '../../images/models';
import { parseDockerfile } from '../dockerfile/parser';
import { typeInstruction, type Instruction, type Stage } from '../dockerfile/instructions';
import { findStage, platformArgs } from '../dockerfile/stages';
import { envLookup, processWord, processWords, ShellWordError } from '../dockerfile/shell-words';
import { DockerfileError } from '../dockerfile/errors';
import { BuildArgs } from './build-args';
import { EMPTY_TAR_DIFF_ID, makeState, stepContainerConfig, withConfig, withLayer, type BuildState, type StepContainer, type StepKind } from './build-state';
import type { BuildContext } from './build-context';
import { imageState, resolveBaseImage, scratchState } from './base-image';
import { applyConfigStep, commandLine, DEFAULT_PATH, resolveWorkdir, shellOf, type WordExpander } from './config-steps';
import { runStep } from './run-step';
import { withStepSnapshot } from './step-snapshot';
import { copyIntoRoot } from './copy-step';
import { parseChmod, resolveChown } from './chown-spec';
import { closeFd, openHostDir, RootWalk } from '../../util/fs-at';
import { HOST_PLATFORM } from '../../images/models';
import { createHash } from 'node:crypto';
import type { Digest } from '../../util/digest';
import { checksumSources } from './source-checksum';
import { copySourceHistory } from './copy-history';
import { isUrl } from './add-sources';
import { SourceError } from './context-sources';
import { MountError, resolveRunMounts, type RunMount } from './run-mounts';
import { LOCAL_CONTEXT_REFUSED, type ContextPathFilter } from '../types';

type Run = Extract<Instruction, { kind: 'run' }>;
type Copy = Extract<Instruction, { kind: 'copy' | 'add' }>;

/** Where a step failed: the Dockerfile line and the message. */
export class StepError extends Error {
  constructor(readonly file: string, readonly line: number, readonly detail: string, cause?: unknown) {
    super(`${file}:${line}: ${detail}`, { cause });
  }
}

/**
 * Runs one stage: FROM, its ONBUILD triggers, then each instruction as moby's classic
 * builder dispatches it — config-only steps commit an empty_layer history entry, RUN runs a
 * container, COPY/ADD/WORKDIR write into a step snapshot.
 */
export class StageRunner {
  private state!: BuildState;
  /** The run config the next commit writes (FROM may change it: OnBuild cleared, PATH added). */
  private runConfig: ImageRunConfig = {};
  private args!: BuildArgs;
  private cmdSet = false;
  private author: string | undefined;
  private readonly label: string;
  /** The current step's result came from the cache. */
  private stepCached = false;

  constructor(private readonly ctx: BuildContext, private readonly stage: Stage) {
    this.label = stage.name ?? String(stage.index);
  }

  async run(): Promise<BuildState> {
    const { ctx, stage } = this;
    this.args = new BuildArgs(ctx.request.buildArgs, ctx.globals, ctx.consumed);
    await this.step(-1, stage.from, () => this.from());
    for (let i = 0; i < stage.instructions.length; i++) {
      const inst = stage.instructions[i];
      await this.step(i, inst, () => this.dispatch(inst));
    }
    return this.state;
  }

  private async step(i: number, inst: Instruction, fn: () => Promise<void>): Promise<void> {
    const { ctx } = this;
    if (ctx.signal.aborted) throw new StepError(ctx.plan.file, inst.lines.start, 'the build was cancelled');
    const n = ctx.stepNumber(this.stage.index, i);
    ctx.emit({ type: 'step', stage: this.label, index: n.index, total: n.total, instruction: inst.original.trim() });
    const started = Date.now();
    this.stepCached = false;
    try {
      await fn();
    } catch (err) {
      if (err instanceof StepError || err instanceof DockerfileError) throw err;
      throw new StepError(ctx.plan.file, inst.lines.start, err instanceof Error ? err.message : String(err), err);
    }
    ctx.emit({ type: 'step-done', stage: this.label, imageId: this.state.id, cached: this.stepCached, durationMs: Date.now() - started });
  }

  // ---- FROM ---------------------------------------------------------------------------

  private async from(): Promise<void> {
    const { ctx, stage } = this;
    const name = stage.from.image;
    const earlier = findStage(ctx.plan, name, stage.index);
    if (earlier) this.state = await ctx.stageResult(earlier.index);
    else if (name.toLowerCase() === 'scratch') this.state = scratchState();
    else {
      const image = await resolveBaseImage(ctx.deps.images, name, ctx.request.pull, ctx.signal, (line) => this.print(line));
      for (const chain of chainIds(image.diffIds)) await ctx.w.protectLayer(chain);
      this.state = imageState(image);
    }
    const rc: ImageRunConfig = { ...(this.state.config.config ?? {}) };
    const triggers = rc.OnBuild ?? [];
    if (triggers.length > 0) rc.OnBuild = null;
    // moby's setDefaultPath: every stage's processes get PATH when the image sets none.
    if (!(rc.Env ?? []).some((kv) => kv.startsWith('PATH='))) rc.Env = [...(rc.Env ?? []), DEFAULT_PATH];
    this.runConfig = rc;
    if (triggers.length > 0) {
      this.print(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}`);
      for (const trigger of triggers) {
        const parsed = parseDockerfile(trigger, ctx.plan.file);
        for (const node of parsed.nodes) {
          node.startLine = stage.from.lines.start;
          await this.dispatch(typeInstruction(node, ctx.plan.file));
        }
      }
    }
  }

  // ---- dispatch -----------------------------------------------------------------------

  private async dispatch(inst: Instruction): Promise<void> {
    const x = this.expander(inst);
    switch (inst.kind) {
      case 'run':
        return this.run_(inst);
      case 'copy':
      case 'add':
        return this.copy(inst, x);
      case 'arg': {
        const shown: string[] = [];
        for (const a of inst.args) {
          const def = a.default === undefined ? undefined : x.word(a.default);
          this.args.declare(a.name, def);
          shown.push(def === undefined ? a.name : `${a.name}=${def}`);
          if (def === undefined && this.ctx.request.buildArgs[a.name] === undefined && !this.ctx.globals.has(a.name)) {
            const platform = platformArgs(`${HOST_PLATFORM.os}/${HOST_PLATFORM.architecture}`, `${HOST_PLATFORM.os}/${HOST_PLATFORM.architecture}`) as Record<string, string>;
            if (platform[a.name] !== undefined) this.args.declare(a.name, platform[a.name]);
          }
        }
        return this.commitConfig(this.runConfig, `ARG ${shown.join(' ')}`, ['arg']);
      }
      case 'workdir': {
        const { runConfig, comment } = applyConfigStep(inst, this.runConfig, x, this.cmdSet);
        const dir = runConfig.WorkingDir as string;
        // withCmdCommentString: one string after the shell, so one space after `#(nop)`.
        const cmd = [...shellOf(runConfig), `#(nop) ${comment}`];
        const createdBy = cmd.join(' ');
        await this.cachedStep(['workdir', dir, runConfig], createdBy, true, { runConfig, createdBy: async () => createdBy }, async () => {
          const step = this.stepContainer(runConfig, cmd, 'comment');
          // moby creates the directory (root-owned, 0755) in a container and commits it: a layer when it was missing.
          const layer = await this.snapshotStep(async (rootFd) => {
            const walk = RootWalk.at(rootFd);
            try {
              walk.walk(dir, { create: true });
            } finally {
              walk.close();
            }
          });
          return withLayer(this.state, runConfig, this.history(createdBy), layer, this.author, step);
        });
        this.runConfig = runConfig;
        return;
      }
      case 'from':
        throw new Error('FROM inside a stage');
      default: {
        const step = applyConfigStep(inst, this.runConfig, x, this.cmdSet);
        if (inst.kind === 'cmd') this.cmdSet = true;
        if (step.author !== undefined) this.author = step.author;
        return this.commitConfig(step.runConfig, step.comment, ['config', this.author ?? '']);
      }
    }
  }

  private async commitConfig(runConfig: ImageRunConfig, comment: string, keyParts: unknown[]): Promise<void> {
    // The shell of the new run config: SHELL's own entry already shows the shell it sets.
    const cmd = [...shellOf(runConfig), '#(nop) ', comment];
    const createdBy = cmd.join(' ');
    await this.cachedStep([...keyParts, createdBy, runConfig], createdBy, false, { runConfig, createdBy: async () => createdBy }, async () =>
      withConfig(this.state, runConfig, this.history(createdBy), this.author, this.stepContainer(runConfig, cmd, 'comment')),
    );
    this.runConfig = runConfig;
  }

  /**
   * A step through the cache: its key is the parent state's ID and the step's resolved
   * inputs (`keyParts`); a hit (unless --no-cache) takes the state recorded before, held in
   * this build's lease; a miss runs `make` and records its result.
   */
  private async cachedStep(
    keyParts: unknown[],
    description: string | (() => string),
    ownLayer: boolean,
    probe: { runConfig: ImageRunConfig; createdBy: () => Promise<string | undefined> },
    make: () => Promise<BuildState>,
  ): Promise<void> {
    const { ctx } = this;
    const cache = ctx.deps.cache;
    const key = createHash('sha256').update(JSON.stringify([this.state.id, keyParts])).digest('hex');
    const hit = await this.cacheEntry(key);
    // With --cache-from, as dockerd: a local hit counts only on the way to a source image (else the sources could no longer match).
    if (hit && (!ctx.cacheFrom || ctx.cacheFrom.leadsTo(hit))) {
      await this.takeCacheHit(hit);
      this.state = hit;
      return;
    }
    // --cache-from: a source image whose history goes on with this step's command.
    if (ctx.cacheFrom && !ctx.request.noCache) {
      const createdBy = await probe.createdBy();
      const hit = createdBy === undefined ? undefined : ctx.cacheFrom.match(this.state, createdBy, probe.runConfig, this.author);
      if (hit) {
        this.state = hit;
        this.stepCached = true;
        ctx.emit({ type: 'cached', stage: this.label });
        // Kept as a cache entry, as dockerd keeps the images it restores (not the source image itself: its stored bytes are its ID).
        if (cache && hit.configSize === undefined) await cache.put(key, createdBy ?? '', hit, false);
        return;
      }
    }
    this.state = await make();
    if (cache) await cache.put(key, typeof description === 'string' ? description : description(), this.state, ownLayer);
  }

  /** The build cache's entry for `key`, held in this build's lease; undefined on a miss, without a cache, or with --no-cache. */
  private async cacheEntry(key: string): Promise<BuildState | undefined> {
    const { ctx } = this;
    const cache = ctx.deps.cache;
    if (!cache || ctx.request.noCache) return undefined;
    ctx.onEnd(cache.hold(key));
    return cache.get(key);
  }

  /** A cache hit taken: its layer protected by the build's lease, the step shown as cached. */
  private async takeCacheHit(hit: BuildState): Promise<void> {
    if (hit.chainId !== null) await this.ctx.w.protectLayer(hit.chainId);
    this.stepCached = true;
    this.ctx.emit({ type: 'cached', stage: this.label });
  }

  private history(createdBy: string): { created: string; created_by: string } {
    return { created: new Date().toISOString(), created_by: createdBy };
  }

  /** The step's container_config (on the current state as its parent) and, for RUN, its container. */
  private stepContainer(runConfig: ImageRunConfig, cmd: string[], kind: StepKind, id?: string): StepContainer {
    return { config: stepContainerConfig(runConfig, cmd, this.state.id, kind), ...(id ? { id } : {}) };
  }

  // ---- RUN ----------------------------------------------------------------------------

  private async run_(inst: Run): Promise<void> {
    const { ctx } = this;
    const argv = runArgv(inst, this.runConfig);
    const env = this.runConfig.Env ?? [];
    const argEnv = this.args.runEnv(env);
    const historyArgs = this.args.historyEnv(env);
    // As moby's dispatchRun: any arg the RUN sees prefixes `|N`, even when none is shown (`|0`: only undeclared proxy args).
    const saved = argEnv.length > 0 ? [`|${historyArgs.length}`, ...historyArgs, ...argv] : argv;
    const createdBy = saved.join(' ');
    const network = inst.network ?? ctx.request.networkMode;
    let mounts: RunMount[];
    try {
      mounts = await resolveRunMounts(inst.mounts, {
        contextDir: ctx.request.contextDir,
        secrets: ctx.request.secrets,
        cacheRoot: path.join(ctx.deps.workRoot, 'cache-mounts'),
        workdir: this.runConfig.WorkingDir ?? '/',
        checksum: (rel) => checksumSources(ctx.contextFd, [rel], 'build context', { ...(ctx.local ? { local: ctx.local } : {}) }),
      });
    } catch (err) {
      if (err instanceof MountError || err instanceof SourceError) throw new Error(err.message, { cause: err });
      throw err;
    }
    // An ONBUILD trigger's bind (the plan's own are refused before the build starts) would show the user's folder itself.
    if (ctx.local && mounts.some((m) => m.type === 'bind')) throw new Error(`${LOCAL_CONTEXT_REFUSED}: a RUN --mount=type=bind reads the context (build from a tar: berth build - < context.tar)`);
    const key = ['run', argv, [...env, ...argEnv], network, createdBy, mounts.map((m) => m.keyPart), this.runConfig];
    await this.cachedStep(key, createdBy, true, { runConfig: this.runConfig, createdBy: async () => createdBy }, () => this.runContainer(argv, [...env, ...argEnv], network, saved, mounts));
  }

  private async runContainer(argv: string[], env: string[], network: string, saved: string[], mounts: RunMount[]): Promise<BuildState> {
    const { ctx } = this;
    const createdBy = saved.join(' ');
    let containerId: string | undefined;
    // The container runs on the state with this stage's run config (PATH, OnBuild cleared).
    const parent = makeState({ ...this.state.config, config: this.runConfig }, this.state.layers, this.state.chainId);
    const layer = await runStep(
      { containers: ctx.deps.containers, rootfs: ctx.deps.rootfs, lookup: ctx.deps.lookup, makeProtected: (make) => ctx.w.makeProtected(make) },
      {
        parent,
        argv,
        env,
        networkMode: network,
        mounts,
        keepFailed: !ctx.request.removeIntermediate && !ctx.request.forceRemoveIntermediate,
        signal: ctx.signal,
        onContainer: (id) => {
          containerId = id;
          ctx.emit({ type: 'container', stage: this.label, id });
        },
        onOutput: (stream, data) => ctx.emit({ type: 'output', stage: this.label, stream, data }),
        onRemoved: (id) => ctx.emit({ type: 'container-removed', stage: this.label, id }),
      },
    );
    ctx.track(layer.chainId);
    return withLayer(this.state, this.runConfig, this.history(createdBy), layer, this.author, this.stepContainer(this.runConfig, saved, 'run', containerId));
  }

  // ---- COPY / ADD ---------------------------------------------------------------------

  private async copy(inst: Copy, x: WordExpander): Promise<void> {
    const { ctx } = this;
    const sources = inst.sources.map((s) => (s.startsWith('<<') ? s : x.word(s)));
    const writtenDest = x.word(inst.dest);
    let dest = writtenDest;
    const trailing = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
    dest = resolveWorkdir(this.runConfig.WorkingDir, dest) + (trailing && !dest.endsWith('/') ? '/' : '');
    if (trailing && !dest.endsWith('/')) dest += '/';
    const chmod = inst.chmod !== undefined ? parseChmod(x.word(inst.chmod)) : undefined;
    const from = inst.from !== undefined ? x.word(inst.from) : undefined;
    const chown = inst.chown !== undefined ? x.word(inst.chown) : undefined;
    const kind = inst.kind.toUpperCase();
    const heredocs = sources.filter((src) => src.startsWith('<<')).map((src) => inst.heredocs.find((h) => src.includes(h.name))).map((h) => (h && h.expand ? x.word(h.content) : h?.content));
    const local = sources.filter((src) => !src.startsWith('<<') && !isUrl(src));
    // The history names the sources as dockerd does (moby's copy-info hashes), worked out only when the step runs.
    let createdBy: string | undefined;
    let cmd: string[] = [];
    const describe = (shown: string): string => {
      cmd = [...shellOf(this.runConfig), `#(nop) ${kind} ${chown !== undefined ? `--chown=${chown}` : ''}${shown} in ${writtenDest} `];
      return (createdBy = cmd.join(' '));
    };
    const describeFrom = (sourceRoot: number, sourceName: string, names: 'host' | 'none', sourceFilter?: ContextPathFilter): string | undefined => {
      if (createdBy !== undefined || local.length !== sources.length) return createdBy;
      try {
        return describe(copySourceHistory(sourceRoot, local, sourceName, names === 'none' ? (ctx.request.contextTarHeaders ?? ctx.local?.headers) : undefined, names, sourceFilter));
      } catch (err) {
        if (err instanceof SourceError) throw new Error(`${kind} failed: ${err.message}`, { cause: err });
        throw err;
      }
    };
    // --link: the files go into an empty root of their own (BuildKit's linked layer), so --chown names are looked up in the parent's first.
    const linkOwner = inst.link && chown !== undefined ? await this.ownerOnParent(chown) : undefined;
    const copyOnto = async (sourceRoot: number, sourceName: string, names: 'host' | 'none', sourceFilter?: ContextPathFilter): Promise<{ chainId: import('../../util/digest').Digest; diffId: import('../../util/digest').Digest; tarSize: number }> => {
      describeFrom(sourceRoot, sourceName, names, sourceFilter);
      return this.snapshotStep(async (rootFd) => {
        const owner = linkOwner ?? (chown !== undefined ? resolveChown(rootFd, chown) : { uid: 0, gid: 0 });
        try {
          await copyIntoRoot(rootFd, {
            kind: inst.kind,
            sources,
            dest,
            heredocs: inst.heredocs,
            expandHeredoc: (text) => x.word(text),
            attrs: { ...owner, ...(chmod !== undefined ? { mode: chmod } : {}) },
            sourceRoot,
            sourceName,
            ...(sourceFilter ? { sourceFilter } : {}),
            tmpDir: path.join(ctx.deps.workRoot, 'tmp'),
            signal: ctx.signal,
          });
        } catch (err) {
          throw new Error(`${kind} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
      }, inst.link ? null : this.state.chainId);
    };
    // The cache key: the sources' checksum (context) or the source layer (a stage, an image).
    const fromChain = from === undefined ? undefined : await this.fromRoot(from);
    let sourceKey: string;
    try {
      sourceKey = fromChain === undefined ? checksumSources(ctx.contextFd, local, 'build context or excluded by .dockerignore', { ...(ctx.local ? { local: ctx.local } : {}), ...(ctx.request.contextTarHeaders ? { tarHeaders: ctx.request.contextTarHeaders } : {}) }) : `${fromChain}:${JSON.stringify(local)}`;
    } catch (err) {
      if (err instanceof SourceError) throw new Error(`${kind} failed: ${err.message}`, { cause: err });
      throw err;
    }
    // A URL's content is known only once downloaded: ADD <url> always runs (nonce in the key).
    const uncachable = sources.some(isUrl) ? createHash('sha256').update(String(process.hrtime.bigint()) + Math.random()).digest('hex') : '';
    // --cache-from matches on the history text, so a probe works it out without copying.
    const probe = {
      runConfig: this.runConfig,
      createdBy: async (): Promise<string | undefined> => {
        if (fromChain === undefined) return describeFrom(ctx.contextFd, 'build context or excluded by .dockerignore', 'none', ctx.local?.filter);
        if (fromChain === null) return this.withEmptyRoot(async (fd) => describeFrom(fd, `stage ${from}`, 'host'));
        return ctx.deps.rootfs.withLayerView(fromChain, async (fd) => describeFrom(fd, from as string, 'host'));
      },
    };
    const inputs = [kind, sources, dest, chown ?? '', chmod ?? '', sourceKey, heredocs, uncachable];
    await this.cachedStep(['copy', ...inputs, this.runConfig, ...(inst.link ? ['link', linkOwner] : [])], () => createdBy ?? '', true, probe, async () => {
      const copyLayer = async () => {
        if (fromChain === undefined) return copyOnto(ctx.contextFd, 'build context or excluded by .dockerignore', 'none', ctx.local?.filter);
        if (fromChain === null) return this.withEmptyRoot((fd) => copyOnto(fd, `stage ${from}`, 'host'));
        return ctx.deps.rootfs.withLayerView(fromChain, (fd) => copyOnto(fd, from as string, 'host'));
      };
      // Heredocs and URLs (BuildKit's and ADD's own): named by berth's checksum of them.
      const shownText = () => createdBy ?? describe(shownSource(sourceKey, local.length + heredocs.length, sources));
      if (inst.link) {
        const linked = await this.linkedLayer(['copy-link', ...inputs, linkOwner], async () => {
          const layer = await copyLayer();
          return withLayer(scratchState(), {}, this.history(shownText()), layer);
        });
        // The history names the sources as the linked layer's did, after this stage's shell.
        const stored = linked.config.history?.at(-1)?.created_by ?? shownText();
        cmd = [...shellOf(this.runConfig), stored.slice(Math.max(0, stored.indexOf('#(nop) ')))];
        const shown = cmd.join(' ');
        return withLayer(this.state, this.runConfig, this.history(shown), linked.layer, this.author, this.stepContainer(this.runConfig, cmd, 'copy'));
      }
      const layer = await copyLayer();
      return withLayer(this.state, this.runConfig, this.history(shownText()), layer, this.author, this.stepContainer(this.runConfig, cmd, 'copy'));
    });
  }

  /** COPY --from: a stage's top layer, or an image's (pulled by the policy). */
  private async fromRoot(from: string): Promise<import('../../util/digest').Digest | null> {
    const { ctx } = this;
    const stage = findStage(ctx.plan, from, this.stage.index);
    if (stage) return (await ctx.stageResult(stage.index)).chainId;
    const image = await resolveBaseImage(ctx.deps.images, from, ctx.request.pull, ctx.signal, (line) => this.print(line));
    for (const chain of chainIds(image.diffIds)) await ctx.w.protectLayer(chain);
    return image.chainId;
  }

  private async withEmptyRoot<T>(fn: (fd: number) => Promise<T>): Promise<T> {
    const dir = path.join(this.ctx.deps.workRoot, 'tmp', `empty-${process.hrtime.bigint()}`);
    const { promises: fs } = await import('node:fs');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const fd = openHostDir(dir);
    try {
      return await fn(fd);
    } finally {
      closeFd(fd);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  private async snapshotStep(write: (rootFd: number) => Promise<void>, parent: Digest | null = this.state.chainId): Promise<{ chainId: import('../../util/digest').Digest; diffId: import('../../util/digest').Digest; tarSize: number }> {
    const { ctx } = this;
    const layer = await withStepSnapshot(
      { snapshotter: ctx.deps.snapshotter, layers: ctx.deps.layers, mountRoot: path.join(ctx.deps.workRoot, 'mounts'), makeProtected: (make) => ctx.w.makeProtected(make) },
      parent,
      write,
    );
    ctx.track(layer.chainId);
    return layer;
  }

  /**
   * COPY --link (BuildKit's meaning): the step's files as a layer of their own, made in an empty
   * root (no path resolved through the parent's symlinks), cached under a key without the
   * parent, then stacked on the parent by applying that layer's tar — so a changed base or an
   * earlier step reuses the linked layer (the same diff ID) instead of copying again.
   */
  private async linkedLayer(keyParts: unknown[], make: () => Promise<BuildState>): Promise<{ config: BuildState['config']; layer: { chainId: Digest; diffId: Digest; tarSize: number } }> {
    const { ctx } = this;
    const cache = ctx.deps.cache;
    const key = createHash('sha256').update(JSON.stringify(keyParts)).digest('hex');
    let linked = await this.cacheEntry(key);
    if (linked?.chainId) await this.takeCacheHit(linked);
    else {
      linked = await make();
      if (cache && linked.chainId !== null) await cache.put(key, linked.config.history?.at(-1)?.created_by ?? '', linked, true);
    }
    const diffId = linked.config.rootfs.diff_ids[0];
    const tarSize = linked.layers[0]?.size ?? 0;
    if (linked.chainId === null || diffId === undefined) return { config: linked.config, layer: { chainId: this.state.chainId ?? EMPTY_TAR_DIFF_ID, diffId: EMPTY_TAR_DIFF_ID, tarSize: 0 } };
    const onParent = await ctx.w.makeProtected(async () => ctx.deps.layers.apply(this.state.chainId, await ctx.deps.layers.layerTar(linked!.chainId!), diffId));
    ctx.track(onParent.chainId);
    return { config: linked.config, layer: { chainId: onParent.chainId, diffId, tarSize } };
  }

  /** `--chown=name` looked up in the parent's /etc/passwd and /etc/group (numeric ids need no root). */
  private async ownerOnParent(chown: string): Promise<{ uid: number; gid: number }> {
    const { ctx } = this;
    if (/^\d+(:\d+)?$/.test(chown) || this.state.chainId === null) return this.withEmptyRoot(async (fd) => resolveChown(fd, chown));
    return ctx.deps.rootfs.withLayerView(this.state.chainId, async (fd) => resolveChown(fd, chown));
  }

  // ---- helpers ------------------------------------------------------------------------

  private expander(inst: Instruction): WordExpander {
    const { ctx } = this;
    const lookup = (): ReturnType<typeof envLookup> => this.args.lookup(this.runConfig.Env ?? []);
    const wrap = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (err) {
        if (err instanceof ShellWordError) throw new StepError(ctx.plan.file, inst.lines.start, err.message);
        throw err;
      }
    };
    return {
      word: (w) => wrap(() => processWord(w, lookup(), ctx.plan.escapeToken)),
      words: (w) => wrap(() => processWords(w, lookup(), ctx.plan.escapeToken)),
    };
  }

  private print(line: string): void {
    this.ctx.emit({ type: 'output', stage: this.label, stream: 'stdout', data: Buffer.from(`${line}\n`) });
  }
}

/** moby's COPY history names its source by kind and hash: `file:<hash>`, `dir:<hash>` or `multi:<hash>`. */
function shownSource(sourceKey: string, count: number, sources: string[]): string {
  const hash = createHash('sha256').update(sourceKey).digest('hex');
  if (count > 1 || sources.length > 1) return `multi:${hash}`;
  return `${sources[0].endsWith('/') || sources[0] === '.' ? 'dir' : 'file'}:${hash}`;
}

/** RUN's argv: exec form as is; shell form through SHELL; a RUN that is only a heredoc runs its body as the script. */
function runArgv(inst: Run, runConfig: ImageRunConfig): string[] {
  if (!inst.command.json && inst.heredocs.length > 0) {
    const text = inst.command.args.join(' ').trim();
    const only = /^<<-?(["']?)([^\s"']+)\1$/.exec(text);
    if (only && inst.heredocs.length === 1 && inst.heredocs[0].name === only[2]) return [...shellOf(runConfig), inst.heredocs[0].content];
    // Otherwise the shell reads the heredocs itself: the bodies follow the command line.
    const bodies = inst.heredocs.map((h) => `${h.content}${h.content.endsWith('\n') ? '' : '\n'}${h.name}\n`).join('');
    return [...shellOf(runConfig), `${text}\n${bodies}`];
  }
  return commandLine(inst.command, runConfig);
}
