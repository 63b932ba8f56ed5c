import { promises as fs } from 'node:fs';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { invalidArgument } from '../../../errors';
import { REPOSITORY_ACTIONS, type RepositoryAction } from './scope';

/**
 * Per-repository access rules of `berth registry serve --access FILE`. The file is YAML (so
 * JSON works too):
 *
 * ```yaml
 * groups:                       # optional: named sets of users, referred to as "@name"
 *   team-a: [alice, bob]
 * rules:                        # the FIRST rule whose pattern matches the repository decides
 *   - repository: "team-a/*"    # glob: `*` stays inside one path component, `**` crosses "/"
 *     pull: ["@team-a", carol]  # user names, "@group", or "*" for every logged-in user
 *     push: ["@team-a"]
 *     delete: [alice]
 *     anonymousPull: true       # pull without logging in (default false)
 *   - repository: "**"
 *     pull: ["*"]
 * ```
 *
 * A repository no rule matches is closed to everybody. With no access file at all, every
 * logged-in user may do everything (and, without an htpasswd file, so may anyone).
 */
export interface AccessRule {
  repository: string;
  pull: string[];
  push: string[];
  delete: string[];
  anonymousPull: boolean;
}

/** The user the request acts as; undefined for an anonymous request. */
export type Principal = string | undefined;

const RULE_KEYS = new Set(['repository', 'pull', 'push', 'delete', 'anonymousPull']);

export class AccessRules {
  private readonly matchers: Array<{ rule: AccessRule; matches: (repo: string) => boolean }>;

  private constructor(
    readonly rules: readonly AccessRule[],
    private readonly groups: ReadonlyMap<string, ReadonlySet<string>>,
  ) {
    this.matchers = rules.map((rule) => ({ rule, matches: picomatch(rule.repository, { dot: true, nonegate: true }) }));
  }

  /** Parses and checks the whole document; every mistake names the file, the rule and the key. */
  static parse(text: string, source = 'access file'): AccessRules {
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw invalidArgument(`${source}: not valid YAML or JSON: ${(err as Error).message}`, err);
    }
    if (!isObject(doc)) throw invalidArgument(`${source}: expected a mapping with "rules" (and optionally "groups")`);
    for (const key of Object.keys(doc)) {
      if (key !== 'rules' && key !== 'groups') throw invalidArgument(`${source}: unknown key "${key}" (expected "rules" or "groups")`);
    }
    const groups = new Map<string, Set<string>>();
    if (doc.groups !== undefined) {
      if (!isObject(doc.groups)) throw invalidArgument(`${source}: "groups" must map group names to lists of users`);
      for (const [name, members] of Object.entries(doc.groups)) {
        groups.set(name, new Set(stringList(members, `${source}: groups.${name}`)));
      }
    }
    if (!Array.isArray(doc.rules)) throw invalidArgument(`${source}: "rules" must be a list`);
    const rules = doc.rules.map((raw, i): AccessRule => {
      const where = `${source}: rules[${i}]`;
      if (!isObject(raw)) throw invalidArgument(`${where}: expected a mapping`);
      for (const key of Object.keys(raw)) {
        if (!RULE_KEYS.has(key)) throw invalidArgument(`${where}: unknown key "${key}" (expected one of ${[...RULE_KEYS].join(', ')})`);
      }
      if (typeof raw.repository !== 'string' || raw.repository === '') throw invalidArgument(`${where}: "repository" must be a non-empty glob`);
      if (raw.anonymousPull !== undefined && typeof raw.anonymousPull !== 'boolean') {
        throw invalidArgument(`${where}: "anonymousPull" must be true or false`);
      }
      const rule: AccessRule = {
        repository: raw.repository,
        pull: stringList(raw.pull ?? [], `${where}.pull`),
        push: stringList(raw.push ?? [], `${where}.push`),
        delete: stringList(raw.delete ?? [], `${where}.delete`),
        anonymousPull: raw.anonymousPull === true,
      };
      for (const action of REPOSITORY_ACTIONS) {
        for (const who of rule[action]) {
          if (who.startsWith('@') && !groups.has(who.slice(1))) throw invalidArgument(`${where}.${action}: unknown group "${who}"`);
        }
      }
      return rule;
    });
    return new AccessRules(rules, groups);
  }

  static async load(file: string): Promise<AccessRules> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw invalidArgument(`cannot read access file ${file}: ${(err as Error).message}`, err);
    }
    return AccessRules.parse(text, file);
  }

  /** The rule that decides for `repository`, if any. */
  ruleFor(repository: string): AccessRule | undefined {
    return this.matchers.find((m) => m.matches(repository))?.rule;
  }

  /** The actions `who` may take on `repository` (anonymous: at most pull). */
  allowedActions(who: Principal, repository: string): RepositoryAction[] {
    const rule = this.ruleFor(repository);
    if (!rule) return [];
    if (who === undefined) return rule.anonymousPull ? ['pull'] : [];
    return REPOSITORY_ACTIONS.filter((action) => rule[action].some((entry) => this.entryMatches(entry, who)) || (action === 'pull' && rule.anonymousPull));
  }

  private entryMatches(entry: string, user: string): boolean {
    if (entry === '*') return true;
    if (entry.startsWith('@')) return this.groups.get(entry.slice(1))?.has(user) ?? false;
    return entry === user;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, where: string): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw invalidArgument(`${where}: expected a list of user names`);
  }
  return value as string[];
}
