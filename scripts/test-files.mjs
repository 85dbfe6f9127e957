#!/usr/bin/env node
/* global process, console */
// Lists the test files of one tier (unit | int | e2e | all), one per line, for
// `npm run test:<tier>`. Every file is in exactly one tier:
// - e2e: `*.browser.test.ts` (browsers, with the app and its real components);
// - int: files that start real components (FFmpeg, the mediasoup worker, an S3
//   server, GStreamer, nginx, network namespaces, the app), themselves or
//   through the test helpers they import;
// - unit: the rest (pure modules, in-process fakes): run in parallel.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const REAL = [
  /\bspawn\(|\bexecFile(Sync)?\b|\bexecSync\(/,
  /\blaunchChromium\b|\bstartTestApp\b|\bstartApp\b|\bstartNode\b/,
  /\bWorkerPool\b|\bcreateWorker\b|\bnew Sfu\b|from 'mediasoup'/,
  /\bS3Server\b|\bs3rver\b/,
  /\bstartHarness\b|\bpushInProcess\b|\brunFfmpeg\b/,
];

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const cache = new Map();
/** Whether a file (or a test-local module it imports) starts a real component. */
function real(file, seen = new Set()) {
  if (cache.has(file)) return cache.get(file);
  if (seen.has(file)) return false;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  let hit = REAL.some((re) => re.test(text));
  if (!hit) {
    for (const m of text.matchAll(/from '(\.{1,2}\/[^']+\.ts)'/g)) {
      const dep = path.normalize(path.join(path.dirname(file), m[1]));
      if (dep.startsWith('test' + path.sep) && real(dep, seen)) {
        hit = true;
        break;
      }
    }
  }
  cache.set(file, hit);
  return hit;
}

const tier = process.argv[2] ?? 'all';
if (!['unit', 'int', 'e2e', 'all'].includes(tier)) {
  console.error(`usage: test-files.mjs unit|int|e2e|all (got ${tier})`);
  process.exit(2);
}
const files = walk('test').filter((f) => f.endsWith('.test.ts')).sort();
const tierOf = (f) => (f.endsWith('.browser.test.ts') ? 'e2e' : real(f) ? 'int' : 'unit');
for (const f of files) if (tier === 'all' || tierOf(f) === tier) console.log(f);
