import { invalidArgument } from '../../errors';
import { Reference, isValidTag, parseNormalizedNamed, withDefaultTag } from '../../images/reference';

/** `repo` (may hold a tag) plus an optional `tag` → a name:tag reference; refuses digests. */
export function tagReference(repo: string, tag?: string): Reference {
  const ref = parseNormalizedNamed(repo);
  if (ref.digest !== undefined) throw invalidArgument('refusing to create a tag with a digest reference');
  if (tag !== undefined && tag !== '') {
    if (!isValidTag(tag)) throw invalidArgument('invalid tag format');
    return { domain: ref.domain, path: ref.path, tag };
  }
  return withDefaultTag(ref);
}
