// The one bearer check (control API, internal API, metrics, CMAF ingest):
// `Authorization: Bearer <token>` compared in constant time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerMatches, bearerToken } from '../../common/index.ts';

const TOKEN = 'admin-token-0123456789';

test('bearerMatches: the Bearer scheme and the token, scheme case-insensitive', () => {
  assert.equal(bearerMatches(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(bearerMatches(`bearer ${TOKEN}`, TOKEN), true);
  assert.equal(bearerMatches(`BEARER ${TOKEN}`, TOKEN), true);
});

test('bearerMatches: spaces between scheme and token (1*SP) and around the value are allowed', () => {
  assert.equal(bearerMatches(`Bearer   ${TOKEN}`, TOKEN), true);
  assert.equal(bearerMatches(`  Bearer ${TOKEN}  `, TOKEN), true);
});

test('bearerMatches: a bare token, another scheme, a wrong token or extra words are refused', () => {
  assert.equal(bearerMatches(TOKEN, TOKEN), false, 'no scheme');
  assert.equal(bearerMatches(`Basic ${TOKEN}`, TOKEN), false);
  assert.equal(bearerMatches(`Bearer${TOKEN}`, TOKEN), false, 'no space after the scheme');
  assert.equal(bearerMatches(`Bearer ${TOKEN.replace(/9$/, '8')}`, TOKEN), false, 'wrong token of the same length');
  assert.equal(bearerMatches(`Bearer ${TOKEN}x`, TOKEN), false, 'longer');
  assert.equal(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN), false, 'a prefix');
  assert.equal(bearerMatches(`Bearer ${TOKEN} ${TOKEN}`, TOKEN), false, 'two words');
});

test('bearerToken: the token of a Bearer header, undefined otherwise', () => {
  assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
  assert.equal(bearerToken(`bearer  ${TOKEN} `), TOKEN);
  assert.equal(bearerToken(TOKEN), undefined);
  assert.equal(bearerToken('Bearer '), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

test('bearerMatches: no header, an empty one, or an empty expected token never match', () => {
  assert.equal(bearerMatches(undefined, TOKEN), false);
  assert.equal(bearerMatches('', TOKEN), false);
  assert.equal(bearerMatches('Bearer ', TOKEN), false);
  assert.equal(bearerMatches('Bearer', TOKEN), false);
  assert.equal(bearerMatches('Bearer ', ''), false);
  assert.equal(bearerMatches('', ''), false);
  assert.equal(bearerMatches(undefined, ''), false);
});
