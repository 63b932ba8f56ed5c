import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, errnoCode, failedPrecondition, invalidArgument, messageOf } from '../../errors';
import { tagReference } from '../../engine/images/tagging';
import { closeFd, openBeneath, openForReading, openHostDir } from '../../util/fs-at';
import type { Digest } from '../../util/digest';
import { buildPlan, type DockerfilePlan, type Instruction, type Stage } from '../dockerfile/instructions';
import { DockerfileError } from '../dockerfile/errors';
import { stagesForTarget, StageGraphError, isPredefinedArg } from '../dockerfile/stages';
import { envLookup, processWord } from '../dockerfile/shell-words';
import { LOCAL_CONTEXT_REFUSED, type BuildCacheStore, type BuildEvent, type BuildRequest, type BuildResult, type ImageBuilder } from '../types';
import { FileDigestCache } from './file-digest-cache';
import { LocalTarHeaders } from './local-tar-headers';
import type { BuildState } from './build-state';
import type { BuildContext, ExecutorDeps } from './build-context';
import { unconsumedArgs } from './build-args';
import { RunFailedError } from './run-step';
import { StageRunner, StepError } from './stage-runner';
import { prepareWorkRoot } from './step-snapshot';
import { StageOrderedEvents } from './stage-order';
import { CacheFromSources } from './cache-from';
import { resolveBaseImage } from './base-image';
import type { ResolvedImage } from '../../engine/images/types';
import type { LeasedWrite } from '../../engine/images/creation';
import { chainIds } from '../../util/digest';

/**
 * The Dockerfile executor (`ImageBuilder`): the plan's needed stages run concurrently (each
 * waits only for the stages it reads), every step under one lease, and only the final
 * image is registered and tagged, in one metadata update: a failed or cancelled build
 * leaves no image, tag, container or snapshot (the lease's end collects its layers).
 */
export class DockerfileExecutor implements ImageBuilder {
  /** Content digests of local contexts' files, kept across builds (a no-change rebuild only stats). */
  private readonly digests = new FileDigestCache();

  constructor(private readonly deps: ExecutorDeps) {}

  get cache(): BuildCacheStore | undefined {
    return this.deps.cache;
  }

  /** Removes what a crashed build left (step snapshots, their mounts, scratch files). */
  async init(): Promise<void> {
    await prepareWorkRoot(this.deps.workRoot, this.deps.snapshotter);
    await this.deps.cache?.init();
  }

  async build(request: BuildRequest, onEvent: (event: BuildEvent) => void): Promise<BuildResult> {
    const refs = request.tags.map((t) => tagReference(t));
    const contextFd = openHostDir(request.contextDir);
    try {
      const plan = this.plan(request, contextFd);
      if (request.localContext && bindsContext(plan)) {
        // The container would see the user's folder itself (its ignored files, and rw writes landing in it).
        throw failedPrecondition(`${LOCAL_CONTEXT_REFUSED}: a RUN --mount=type=bind reads the context`);
      }
      for (const warning of plan.warnings) onEvent({ type: 'warning', message: warning });
      let stages;
      try {
        stages = stagesForTarget(plan, request.target);
      } catch (err) {
        if (err instanceof StageGraphError) throw invalidArgument(err.message, err);
        throw err;
      }
      stages = withBuildLabels(stages, request.labels);
      const total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
      const firstStep = new Map<number, number>();
      stages.reduce((n, s) => (firstStep.set(s.index, n), n + 1 + s.instructions.length), 1);
      const globals = globalArgs(plan, request.buildArgs);
      const consumed = new Set<string>(plan.globalArgs.map((a) => a.name));
      const aborter = new AbortController();
      const releases: Array<() => void> = [];
      const onClientAbort = (): void => aborter.abort();
      request.signal.addEventListener('abort', onClientAbort);
      if (request.signal.aborted) aborter.abort();
      try {
        const imageId = await this.deps.images.leased('build', async (w) => {
          const cacheFrom = await this.cacheFromSources(request, w, aborter.signal, onEvent);
          const results = new Map<number, Promise<BuildState>>();
          const ordered = new StageOrderedEvents(stages.map((s) => s.name ?? String(s.index)), onEvent);
          const ctx: BuildContext = {
            deps: this.deps,
            request,
            plan,
            w,
            signal: aborter.signal,
            contextFd,
            ...(request.localContext ? { local: { filter: request.localContext, digests: this.digests, headers: new LocalTarHeaders(contextFd, request.localContext, this.digests) } } : {}),
            globals,
            consumed,
            emit: (event) => ordered.emit(event),
            stageResult: (index) => {
              const r = results.get(index);
              if (!r) throw new Error(`stage ${index} is not part of this build`);
              return r;
            },
            stepNumber: (stage, i) => ({ index: (firstStep.get(stage) ?? 1) + 1 + i, total }),
            track: (chainId) => w.newChains.push(chainId),
            onEnd: (release) => releases.push(release),
            ...(cacheFrom ? { cacheFrom } : {}),
          };
          stages.forEach((stage, pos) => {
            const p = new StageRunner(ctx, stage).run();
            p.catch(() => aborter.abort()); // the first failure stops the other stages
            p.then(
              (state) => {
                // dockerd's emitImageID after each stage; the last one's is the build's own.
                if (pos < stages.length - 1) ordered.emit({ type: 'stage-built', stage: stage.name ?? String(stage.index), imageId: state.id });
                ordered.finish(pos);
              },
              () => ordered.finish(pos),
            );
            results.set(stage.index, p);
          });
          const settled = await Promise.allSettled(results.values());
          ordered.flush();
          const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
          if (failed) throw firstCause(settled, failed);
          const final = await results.get(stages[stages.length - 1].index)!;
          const [id] = await this.deps.images.register([{ config: final.config, layers: [...final.layers], ...(final.configSize !== undefined ? { configBlob: { digest: final.id, size: final.configSize } } : {}) }], w, (tx, ids) => {
            for (const ref of refs) tx.setRef(ref, ids[0]);
          });
          return id as Digest;
        });
        for (const name of unconsumedArgs(request.buildArgs, consumed)) {
          onEvent({ type: 'warning', message: `[Warning] One or more build-args [${name}] were not consumed` });
        }
        onEvent({ type: 'built', imageId });
        for (const t of request.tags) onEvent({ type: 'tagged', ref: t });
        return { imageId };
      } finally {
        request.signal.removeEventListener('abort', onClientAbort);
        for (const release of releases) release();
      }
    } catch (err) {
      throw asEngineError(err);
    } finally {
      closeFd(contextFd);
    }
  }

  /**
   * The `--cache-from` images: local ones, or pulled when missing (unless --pull=never);
   * one that cannot be had is skipped with a warning, as dockerd skips it (in its log).
   * Their layers are held for the build.
   */
  private async cacheFromSources(request: BuildRequest, w: LeasedWrite, signal: AbortSignal, onEvent: (event: BuildEvent) => void): Promise<CacheFromSources | undefined> {
    if (request.cacheFrom.length === 0 || request.noCache) return undefined;
    const found: ResolvedImage[] = [];
    for (const name of request.cacheFrom) {
      try {
        const image = await resolveBaseImage(this.deps.images, name, request.pull === 'never' ? 'never' : 'missing', signal, () => undefined);
        for (const chain of chainIds(image.diffIds)) await w.protectLayer(chain);
        found.push(image);
      } catch (err) {
        if (signal.aborted) throw err;
        onEvent({ type: 'warning', message: `Could not look up ${name} for cache resolution, skipping: ${messageOf(err)}` });
      }
    }
    return found.length > 0 ? new CacheFromSources(found) : undefined;
  }

  /** The Dockerfile (from the request, or read beneath the context: a link out of it is refused), parsed and typed. */
  private plan(request: BuildRequest, contextFd: number): DockerfilePlan {
    const name = request.dockerfile || 'Dockerfile';
    let text = request.dockerfileText;
    if (text === undefined) {
      let pathFd: number;
      try {
        pathFd = openBeneath(contextFd, name.replace(/^\/+/, ''));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw invalidArgument(`Cannot locate specified Dockerfile: ${name}`);
        if (errnoCode(err) === 'EXDEV') throw invalidArgument(`the Dockerfile (${name}) must be within the build context`);
        throw err;
      }
      try {
        const fd = openForReading(pathFd);
        try {
          text = readFileSync(fd, 'utf8');
        } finally {
          closeFd(fd);
        }
      } finally {
        closeFd(pathFd);
      }
    }
    try {
      return buildPlan(text, path.posix.basename(name), request.buildArgs);
    } catch (err) {
      if (err instanceof DockerfileError) throw invalidArgument(err.message, err);
      throw err;
    }
  }
}

/** Whether a RUN binds a path of the context (type=bind without from=). */
function bindsContext(plan: DockerfilePlan): boolean {
  return plan.stages.some((stage) => stage.instructions.some((i) => i.kind === 'run' && i.mounts.some((m) => m.type === 'bind' && m.options.from === undefined)));
}

/** Values of the ARGs before the first FROM (--build-arg wins over the default). */
function globalArgs(plan: DockerfilePlan, given: Record<string, string>): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>();
  const env: Record<string, string> = Object.fromEntries(Object.entries(given).filter(([k]) => isPredefinedArg(k)));
  for (const a of plan.globalArgs) {
    const v = given[a.name] ?? (a.default !== undefined ? processWord(a.default, envLookup(env), plan.escapeToken) : undefined);
    values.set(a.name, v);
    if (v !== undefined) env[a.name] = v;
  }
  return values;
}

/**
 * `--label`: as dockerd's buildLabelOptions, one `LABEL k=v` step per label (sorted by key,
 * values not expanded) appended to the last stage, counted and shown as steps.
 */
function withBuildLabels(stages: Stage[], labels: Record<string, string>): Stage[] {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return stages;
  const last = stages[stages.length - 1];
  const line = last.instructions.length > 0 ? last.instructions[last.instructions.length - 1].lines.end : last.from.lines.end;
  const added: Instruction[] = keys.map((k) => ({ kind: 'label', pairs: [[k, labels[k]]], literal: true, original: `LABEL ${k}=${labels[k]}`, lines: { start: line, end: line } }));
  return [...stages.slice(0, -1), { ...last, instructions: [...last.instructions, ...added] }];
}

/** The failure to report: a stage's own error rather than the "cancelled" of the stages it stopped. */
function firstCause(settled: PromiseSettledResult<unknown>[], fallback: PromiseRejectedResult): unknown {
  const real = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof StepError && s.reason.detail === 'the build was cancelled'));
  return (real as PromiseRejectedResult | undefined)?.reason ?? fallback.reason;
}

function asEngineError(err: unknown): unknown {
  if (err instanceof EngineError) return err;
  if (err instanceof StepError) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof RunFailedError) return failedPrecondition(err.message, err);
    if (cause instanceof EngineError && cause.kind !== 'InvalidArgument') return new EngineError(cause.kind, err.message, { cause: err });
    return invalidArgument(err.message, err);
  }
  return err;
}
