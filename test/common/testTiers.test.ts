// The test tiers (scripts/test-files.mjs): every test file is in exactly one of
// unit, int and e2e, so `npm test` (all three) still runs the whole suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const tier = (name: string): string[] => execFileSync(process.execPath, ['scripts/test-files.mjs', name], { encoding: 'utf8' }).split('\n').filter(Boolean);
const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(path.join(dir, n)).isDirectory() ? walk(path.join(dir, n)) : [path.join(dir, n)]));

test('each test file is in exactly one tier; browser tests are e2e, tests that start FFmpeg or a worker are int', () => {
  const [unit, int, e2e] = [tier('unit'), tier('int'), tier('e2e')];
  const files = walk('test').filter((f) => f.endsWith('.test.ts')).sort();
  assert.deepEqual([...unit, ...int, ...e2e].sort(), files);
  assert.equal(new Set([...unit, ...int, ...e2e]).size, files.length, 'no file twice');
  assert.ok(e2e.every((f) => f.endsWith('.browser.test.ts')) && files.filter((f) => f.endsWith('.browser.test.ts')).every((f) => e2e.includes(f)));
  for (const f of ['test/transcode/decodeErrors.test.ts', 'test/packager/live.test.ts', 'test/ingest/whipOffer.test.ts', 'test/packager/s3.test.ts']) assert.ok(int.includes(f), `${f} is int`);
  for (const f of ['test/packager/captions.test.ts', 'test/packager/timeline.test.ts', 'test/transcode/rtpSwitchCore.test.ts']) assert.ok(unit.includes(f), `${f} is unit`);
  assert.throws(() => tier('nightly'), 'an unknown tier is an error');
});
