// Bearer tokens through the real app router: the control API and /metrics use
// one check (common/bearer.ts): the `Bearer` scheme is required, the token is
// compared in constant time whatever its length.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApp } from '../../app/server.ts';
import { TEST_ADMIN_TOKEN, startTestApp } from '../helpers/app.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
let app: RunningApp;

before(async () => {
  app = await startTestApp({ metrics: { token: METRICS_TOKEN } });
});
after(async () => {
  await app?.close();
});

const status = async (path: string, authorization?: string) =>
  (await fetch(`${app.url}${path}`, authorization === undefined ? {} : { headers: { authorization } })).status;

/** The same length, one character changed. */
const sameLengthWrong = (token: string) => token.slice(0, -1) + (token.endsWith('x') ? 'y' : 'x');

describe('control API admin token', () => {
  test('the bare admin token without the Bearer scheme is 401', async () => {
    assert.equal(await status('/api/stages', TEST_ADMIN_TOKEN), 401);
  });
  test('a wrong token of the right length with the Bearer scheme is 401', async () => {
    assert.equal(await status('/api/stages', `Bearer ${sameLengthWrong(TEST_ADMIN_TOKEN)}`), 401);
  });
  test('another scheme, or no header, is 401', async () => {
    assert.equal(await status('/api/stages', `Basic ${TEST_ADMIN_TOKEN}`), 401);
    assert.equal(await status('/api/stages'), 401);
  });
  test('the admin token as Bearer (scheme in any case, spaces allowed) is 200', async () => {
    assert.equal(await status('/api/stages', `Bearer ${TEST_ADMIN_TOKEN}`), 200);
    assert.equal(await status('/api/stages', `bearer   ${TEST_ADMIN_TOKEN}`), 200);
  });
});

describe('metrics token', () => {
  test('bare token 401, same-length wrong token 401, the token as Bearer 200', async () => {
    assert.equal(await status('/metrics', METRICS_TOKEN), 401);
    assert.equal(await status('/metrics', `Bearer ${sameLengthWrong(METRICS_TOKEN)}`), 401);
    assert.equal(await status('/metrics', `Bearer ${METRICS_TOKEN}`), 200);
    assert.equal(await status('/metrics', `BEARER  ${METRICS_TOKEN}`), 200);
  });
});
