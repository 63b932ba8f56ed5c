import { randomInt } from 'node:crypto';

// A short list in the spirit of Docker's generated names (adjective_scientist).
const ADJECTIVES = [
  'admiring', 'brave', 'clever', 'dazzling', 'eager', 'festive', 'gallant', 'happy', 'jolly', 'keen',
  'lucid', 'merry', 'nifty', 'optimistic', 'peaceful', 'quirky', 'relaxed', 'serene', 'trusting', 'vibrant',
  'wizardly', 'youthful', 'zealous', 'bold', 'calm', 'determined', 'elegant', 'friendly', 'gifted', 'hopeful',
];
const SCIENTISTS = [
  'turing', 'hopper', 'lovelace', 'curie', 'noether', 'dijkstra', 'knuth', 'ritchie', 'thompson', 'shannon',
  'hamilton', 'goldwasser', 'liskov', 'lamport', 'torvalds', 'babbage', 'boole', 'euclid', 'gauss', 'hypatia',
  'kepler', 'meitner', 'newton', 'pasteur', 'ramanujan', 'tesla', 'wozniak', 'yalow', 'franklin', 'galileo',
];

/** A random `adjective_name`, retried (then suffixed) until `taken` says it is free. */
export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 10; attempt++) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SCIENTISTS[randomInt(SCIENTISTS.length)]}`;
    const candidate = attempt < 3 ? name : `${name}${randomInt(10)}`;
    if (!taken(candidate)) return candidate;
  }
  return `berth_${randomInt(1_000_000_000)}`;
}
