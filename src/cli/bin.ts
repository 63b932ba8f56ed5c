// The entry of the one-file CLI bundle (dist/berth-cli.js, made by scripts/bundle-cli.ts).
import { runMain } from './main';

runMain();
