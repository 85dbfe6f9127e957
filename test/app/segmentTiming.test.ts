// One segment setting for the whole pipeline: the transcoder's keyframe interval
// is the packager's segment target, and the part target fits the parts FFmpeg makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appConfigSchema, describeConfigError, type AppConfigInput } from '../../app/config.ts';

const base = { adminToken: 'a'.repeat(20), ingest: { hostTokenSecret: 'h'.repeat(20) } } as const;
const parse = (input: Partial<AppConfigInput>) => appConfigSchema.parse({ ...base, ...input });
const errors = (input: Partial<AppConfigInput>): string => {
  const r = appConfigSchema.safeParse({ ...base, ...input });
  return r.success ? '' : describeConfigError(r.error);
};

test('defaults: the packager cuts 1 s segments and a 220 ms part target, as the transcoder encodes', () => {
  const c = parse({});
  assert.equal(c.transcode.segmentDurationMs, 1000);
  assert.equal(c.packager.segmentTargetMs, 1000);
  assert.equal(c.transcode.partDurationMs, 200);
  assert.equal(c.packager.partTargetMs, 220);
});

test('packager.segmentTargetMs unset: derived from transcode.segmentDurationMs (the keyframe interval)', () => {
  const c = parse({ transcode: { segmentDurationMs: 2000 } });
  assert.equal(c.packager.segmentTargetMs, 2000);
  assert.equal(parse({ transcode: { segmentDurationMs: 2000 }, packager: { segmentTargetMs: 2000 } }).packager.segmentTargetMs, 2000, 'an explicit value that agrees is fine');
});

test('disagreeing segment settings are refused with an error naming both keys', () => {
  const e = errors({ transcode: { segmentDurationMs: 2000 }, packager: { segmentTargetMs: 1000 } });
  assert.match(e, /^config packager\.segmentTargetMs: /m);
  assert.match(e, /packager\.segmentTargetMs \(1000\)/);
  assert.match(e, /transcode\.segmentDurationMs \(2000\)/);
  // Only the packager side set, to something other than the transcoder's default: the same refusal.
  assert.match(errors({ packager: { segmentTargetMs: 2000 } }), /packager\.segmentTargetMs \(2000\).*transcode\.segmentDurationMs \(1000\)/);
});

test('packager.partTargetMs unset: derived so every part FFmpeg makes fits (≥ the largest, 10 % slack)', () => {
  // 250 ms at 30 fps: FFmpeg cuts a fragment once it reaches 250 ms, i.e. after 8 frames (266.7 ms).
  assert.equal(parse({ transcode: { partDurationMs: 250 } }).packager.partTargetMs, 275);
  // 100 ms at 24 fps: 3 frames (125 ms) per part, more than 110 ms.
  assert.equal(parse({ transcode: { partDurationMs: 100, fps: 24 } }).packager.partTargetMs, 125);
  assert.equal(parse({ transcode: { fps: 15 } }).packager.partTargetMs, 220);
});

test('an explicit part target that a part exceeds, or that the parts fall 15 % short of, is refused naming both keys', () => {
  const small = errors({ transcode: { partDurationMs: 250 }, packager: { partTargetMs: 220 } });
  assert.match(small, /^config packager\.partTargetMs: /m);
  assert.match(small, /packager\.partTargetMs \(220\)/);
  assert.match(small, /transcode\.partDurationMs \(250\)/);
  const large = errors({ packager: { partTargetMs: 400 } });
  assert.match(large, /^config packager\.partTargetMs: .*85 %/m);
  assert.match(large, /transcode\.partDurationMs \(200\)/);
  assert.equal(errors({ packager: { partTargetMs: 220 } }), '');
  assert.equal(errors({ packager: { partTargetMs: 200 } }), '', '200 ms parts fit a 200 ms target');
});
