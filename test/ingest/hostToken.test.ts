import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../common/index.ts';
import { signHostToken, verifyHostToken } from '../../ingest/index.ts';

const secret = 'a-test-secret-of-some-length';
const now = 1_800_000_000;

function rejects(fn: () => unknown, status: number, code: string) {
  assert.throws(fn, (err: unknown) => err instanceof InputError && err.status === status && err.code === code);
}

test('a signed host token verifies for its stage and keeps its claims', () => {
  const token = signHostToken({ stageId: 'main', role: 'host-audio', name: 'Ada', exp: now + 60 }, secret);
  assert.deepEqual(verifyHostToken(token, secret, { stageId: 'main', nowSeconds: now }), {
    stageId: 'main',
    role: 'host-audio',
    name: 'Ada',
    exp: now + 60,
  });
});

test('an expired token is 401 token-expired', () => {
  const token = signHostToken({ stageId: 'main', role: 'host', exp: now }, secret);
  rejects(() => verifyHostToken(token, secret, { stageId: 'main', nowSeconds: now }), 401, 'token-expired');
});

test('a token for another stage is 403', () => {
  const token = signHostToken({ stageId: 'other', role: 'host', exp: now + 60 }, secret);
  rejects(() => verifyHostToken(token, secret, { stageId: 'main', nowSeconds: now }), 403, 'forbidden');
});

test('a forged, tampered or malformed token is 401', () => {
  const token = signHostToken({ stageId: 'main', role: 'host', exp: now + 60 }, secret);
  rejects(() => verifyHostToken(token, 'another-secret-entirely', { stageId: 'main', nowSeconds: now }), 401, 'unauthorized');
  const [body, sig] = token.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  const forgedBody = Buffer.from(JSON.stringify({ ...claims, exp: now + 999999 })).toString('base64url');
  rejects(() => verifyHostToken(`${forgedBody}.${sig}`, secret, { stageId: 'main', nowSeconds: now }), 401, 'unauthorized');
  for (const bad of [undefined, 42, '', 'abc', 'a.b.c', `${body}.`, '.'.repeat(3000)]) {
    rejects(() => verifyHostToken(bad, secret, { stageId: 'main', nowSeconds: now }), 401, 'unauthorized');
  }
});

test('signing refuses a short secret', () => {
  assert.throws(() => signHostToken({ stageId: 'main', role: 'host', exp: now }, 'short'), TypeError);
});
