// The stage graph: which stages a target needs (FROM <stage>, COPY --from, RUN --mount from=),
// in an order where each stage comes after the ones it reads from.
import type { DockerfilePlan, Stage } from './instructions.js';

export class StageGraphError extends Error {}

/** The stage a name or index refers to, or undefined when it names an image. */
export function findStage(plan: DockerfilePlan, ref: string, before: number): Stage | undefined {
  const lower = ref.toLowerCase();
  const byName = plan.stages.find((s) => s.name === lower && s.index < before);
  if (byName) return byName;
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= before) throw new StageGraphError(`invalid from flag value ${ref}: refers to current or future build stage`);
    return plan.stages[i];
  }
  return undefined;
}

/** Direct dependencies of a stage (indices), in first-use order. */
export function stageDependencies(plan: DockerfilePlan, stage: Stage): number[] {
  const deps: number[] = [];
  const add = (ref: string | undefined): void => {
    if (ref === undefined) return;
    const s = findStage(plan, ref, stage.index);
    if (s && !deps.includes(s.index)) deps.push(s.index);
  };
  add(stage.from.image);
  for (const inst of stage.instructions) {
    if (inst.kind === 'copy') add(inst.from);
    if (inst.kind === 'run') for (const m of inst.mounts) add(m.options.from);
  }
  return deps;
}

/** The stages needed to build `target` (default: the last stage), dependencies first. */
export function stagesForTarget(plan: DockerfilePlan, target?: string): Stage[] {
  let last: Stage | undefined;
  if (target === undefined || target === '') last = plan.stages[plan.stages.length - 1];
  else last = plan.stages.find((s) => s.name === target.toLowerCase());
  if (!last) throw new StageGraphError(`target stage "${target}" could not be found`);
  const order: number[] = [];
  const visit = (s: Stage): void => {
    if (order.includes(s.index)) return;
    for (const d of stageDependencies(plan, s)) visit(plan.stages[d]);
    order.push(s.index);
  };
  visit(last);
  return order.sort((x, y) => x - y).map((i) => plan.stages[i]);
}

const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

/** Args every build may use without declaring them (Docker's predefined ARGs). */
export function isPredefinedArg(name: string): boolean {
  return PROXY_ARGS.includes(name) || /^(TARGET|BUILD)(PLATFORM|OS|ARCH|VARIANT)$/.test(name);
}

/** Values of the platform ARGs for a platform like `linux/arm64/v8`. */
export function platformArgs(target: string, build: string): Record<string, string> {
  const split = (p: string): [string, string, string] => {
    const [os = '', arch = '', variant = ''] = p.split('/');
    return [os, arch, variant];
  };
  const [tos, tarch, tvar] = split(target);
  const [bos, barch, bvar] = split(build);
  return { TARGETPLATFORM: target, TARGETOS: tos, TARGETARCH: tarch, TARGETVARIANT: tvar,
    BUILDPLATFORM: build, BUILDOS: bos, BUILDARCH: barch, BUILDVARIANT: bvar };
}
