import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DependencyError } from '../../common/index.ts';
import { retryPolicySchema } from '../../packager/index.ts';
import { retryDelay } from '../../packager/store.ts';
import { isTransientStoreError, storeFailure } from '../../packager/storeErrors.ts';

/** An error shaped as the AWS SDK throws it for a service answer. */
const sdk = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} from the service`), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, attempts: 1 }, ...extra });
/** A Node.js system error (network or filesystem). */
const sys = (code: string, message = `${code} from the OS`) => Object.assign(new Error(message), { code });

const TABLE: [what: string, err: unknown, transient: boolean][] = [
  // The store's own trouble, throttling and timeouts: worth another try.
  ['500 InternalError', sdk('InternalError', 500), true],
  ['502 from a proxy the SDK cannot parse', sdk('Unknown', 502), true],
  ['503 ServiceUnavailable', sdk('ServiceUnavailable', 503), true],
  ['503 SlowDown', sdk('SlowDown', 503), true],
  ['504 gateway timeout', sdk('Unknown', 504), true],
  ['429 Too Many Requests', sdk('TooManyRequestsException', 429), true],
  ['400 ThrottlingException', sdk('ThrottlingException', 400), true],
  ['400 RequestTimeout (S3: the upload socket went idle)', sdk('RequestTimeout', 400), true],
  ['408 Request Timeout', sdk('Unknown', 408), true],
  ['409 OperationAborted (S3: a conflicting operation, try again)', sdk('OperationAborted', 409), true],
  ['403 RequestTimeTooSkewed after the SDK corrected its clock', sdk('RequestTimeTooSkewed', 403, { $metadata: { httpStatusCode: 403, clockSkewCorrected: true } }), true],
  ['an error the SDK marks $retryable', Object.assign(new Error('x'), { $retryable: { throttling: false } }), true],
  ['SDK TimeoutError (socket timeout)', Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }), true],
  ['ECONNREFUSED (store down)', sys('ECONNREFUSED'), true],
  ['ECONNRESET', sys('ECONNRESET'), true],
  ['ETIMEDOUT', sys('ETIMEDOUT'), true],
  ['EPIPE', sys('EPIPE'), true],
  ['EAI_AGAIN (DNS temporary failure)', sys('EAI_AGAIN'), true],
  ['ENOTFOUND (DNS, transient during resolver restarts; the SDK retries it too)', sys('ENOTFOUND'), true],
  ['EHOSTUNREACH', sys('EHOSTUNREACH'), true],
  ['ENETUNREACH', sys('ENETUNREACH'), true],
  ['socket hang up without a code', new Error('socket hang up'), true],
  ['a network error wrapped as a cause', new Error('fetch failed', { cause: sys('ECONNRESET') }), true],
  ['EBUSY (filesystem)', sys('EBUSY'), true],
  ['EMFILE (out of file descriptors, for now)', sys('EMFILE'), true],
  ['ENFILE', sys('ENFILE'), true],
  ['EAGAIN', sys('EAGAIN'), true],
  // The destination refuses, or we are wrong: another try gets the same answer.
  ['403 AccessDenied', sdk('AccessDenied', 403), false],
  ['403 InvalidAccessKeyId', sdk('InvalidAccessKeyId', 403), false],
  ['403 SignatureDoesNotMatch (clock not corrected: wrong secret)', sdk('SignatureDoesNotMatch', 403), false],
  ['404 NoSuchBucket', sdk('NoSuchBucket', 404), false],
  ['400 InvalidRequest', sdk('InvalidRequest', 400), false],
  ['400 EntityTooLarge', sdk('EntityTooLarge', 400), false],
  ['501 NotImplemented (permanent by definition)', sdk('NotImplemented', 501), false],
  ['505 HTTP Version Not Supported', sdk('Unknown', 505), false],
  ['EACCES', sys('EACCES'), false],
  ['EPERM', sys('EPERM'), false],
  ['EROFS', sys('EROFS'), false],
  ['ENOSPC (a full disk does not empty itself within a retry window)', sys('ENOSPC'), false],
  ['EDQUOT', sys('EDQUOT'), false],
  ['ENOTDIR', sys('ENOTDIR'), false],
  ['AbortError (our own close(), not the store)', Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ECONNRESET' }), false],
  ['TypeError (an unsafe key: our bug)', new TypeError('unsafe object key'), false],
  ['an Error of unknown kind', new Error('something odd'), false],
  ['a thrown string', 'boom', false],
  ['undefined', undefined, false],
  ['a cause chain that loops', (() => { const e = new Error('loop') as Error & { cause?: unknown }; e.cause = e; return e; })(), false],
];

test('isTransientStoreError: 5xx, throttling, timeouts and network/fd-pressure errors are transient; refusals, unknown errors and our own aborts are not', () => {
  const wrong = TABLE.filter(([, err, transient]) => isTransientStoreError(err) !== transient).map(([what, , transient]) => `${what}: expected ${transient ? 'transient' : 'not transient'}`);
  assert.deepEqual(wrong, []);
});

test('storeFailure: a DependencyError with the code, the key and what the store said; a TypeError (our bug) passes through unchanged', () => {
  const e = storeFailure('store-rejected', 'b1/video/seg-1.m4s', sdk('NoSuchBucket', 404));
  assert.ok(e instanceof DependencyError);
  assert.equal(e.code, 'store-rejected');
  assert.match(e.message, /b1\/video\/seg-1\.m4s/);
  assert.match(e.message, /NoSuchBucket/);
  assert.match(e.message, /404/);
  assert.equal((e.cause as Error).name, 'NoSuchBucket');
  assert.match(storeFailure('store-unavailable', 'k/x', sys('ECONNREFUSED')).message, /ECONNREFUSED/);
  const bug = new TypeError('unsafe object key');
  assert.equal(storeFailure('store-rejected', 'k/x', bug), bug);
});

test('retryDelay: nominal backoff capped at maxDelayMs, spread by the jitter mode over the injected random draw', () => {
  const base = { maxRetries: 10, delayMs: 100, maxDelayMs: 1_000, backoffFactor: 2 };
  const rows: [jitter: 'none' | 'full' | 'equal', attempt: number, draw: number, delay: number][] = [
    ['none', 1, 0.3, 100],
    ['none', 3, 0.3, 400],
    ['none', 5, 0.3, 1_000], // 1600 capped
    ['full', 1, 0, 0],
    ['full', 1, 0.5, 50],
    ['full', 4, 0.25, 200],
    ['full', 9, 0.999, 999], // capped nominal 1000
    ['equal', 1, 0, 50],
    ['equal', 1, 0.999, 100],
    ['equal', 3, 0.5, 300],
    ['equal', 9, 0, 500],
    ['equal', 2, 1.5, 200], // a draw out of range is clamped, never beyond the nominal delay
    ['full', 2, -1, 0],
    ['full', 2, Number.NaN, 0],
  ];
  for (const [jitter, attempt, draw, delay] of rows) {
    assert.equal(retryDelay({ ...base, jitter }, attempt, () => draw), delay, `${jitter} attempt ${attempt} draw ${draw}`);
  }
  assert.equal(retryDelay({ ...base, delayMs: 0, jitter: 'none' }, 2_000, () => 0.5), 0, 'no NaN when the factor overflows');
  assert.equal(retryDelay({ ...base, backoffFactor: 10, jitter: 'none' }, 400, () => 0.5), 1_000, 'capped when the factor overflows');
});

test('retryPolicySchema: jitter defaults to equal, and a wrong mode is refused with the key named', () => {
  assert.equal(retryPolicySchema.parse({}).jitter, 'equal');
  const r = retryPolicySchema.safeParse({ jitter: 'sometimes' });
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues[0]!.path, ['jitter']);
});
