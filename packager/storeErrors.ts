import { DependencyError, errorMessage } from '../common/index.ts';

/**
 * Which object-store failures are worth another try. Only what is known to
 * pass: the store's own trouble, throttling, timeouts, the network, and
 * momentary descriptor pressure. Anything else (a refusal, an error of a kind
 * we do not know) gets the same answer next time, so it is reported at once
 * instead of holding a queue slot through the whole backoff. The tables follow
 * the AWS SDK's own classification (@smithy service-error-classification).
 */

/** Error names (the S3 error `Code`, or the SDK's) that mean "later". */
const TRANSIENT_NAMES = new Set([
  // Throttling (SDK THROTTLING_ERROR_CODES; S3 answers SlowDown).
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
  // Timeouts: the SDK's socket timeout, S3's 400 RequestTimeout (the upload went idle).
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  // S3 codes of its own trouble (also 5xx, named here for stores that get the status wrong).
  'InternalError',
  'ServiceUnavailable',
  // S3 409: "a conflicting conditional operation is in progress; try again".
  'OperationAborted',
]);

/**
 * errno codes of the network and of momentary resource pressure. ENOTFOUND is
 * in (as in the SDK): cluster resolvers answer it while they restart, and a
 * misconfigured endpoint still fails within the retry budget. ENOSPC/EDQUOT
 * are out: a full disk does not empty itself within a retry window, and
 * retrying only adds write load while the operator needs to hear of it now.
 */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'EAGAIN',
]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean };
}

/** 5xx but 501/505 (permanent by definition), 429, 408. */
function transientStatus(status: number): boolean {
  if (status >= 500 && status <= 599) return status !== 501 && status !== 505;
  return status === 429 || status === 408;
}

/** Whether an upload that failed with `err` may succeed if tried again. Pure. */
export function isTransientStoreError(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const e = err as ErrorShape;
  // Our own abort (close()), whatever socket error came with it.
  if (e.name === 'AbortError') return false;
  if (e.$retryable !== undefined) return true;
  // The SDK moved its clock offset from this answer: the next signature will be on time.
  if (e.$metadata?.clockSkewCorrected) return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  // A store that answered: its status is the verdict (a 4xx stays a 4xx).
  if (status !== undefined) return transientStatus(status);
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (e.message === 'socket hang up') return true;
  return e.cause !== undefined && isTransientStoreError(e.cause, depth + 1);
}

/**
 * How an upload failure is reported: `store-rejected` (the destination refused;
 * not retried), `store-unavailable` (transient, retries exhausted),
 * `store-closed` (given up at close()).
 */
export type StoreFailureCode = 'store-rejected' | 'store-unavailable' | 'store-closed';

/** What the store said, in one line: `NoSuchBucket (HTTP 404): …` or `ECONNREFUSED: …`. */
export function describeStoreError(err: unknown): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const label = typeof e.code === 'string' ? e.code : typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined;
  const head = [label, status !== undefined ? `(HTTP ${status})` : undefined].filter(Boolean).join(' ');
  const msg = errorMessage(err);
  return head && !msg.startsWith(head) ? `${head}: ${msg}` : msg;
}

/**
 * The error an upload failure is reported with: a DependencyError naming the
 * key and what the store said (the original as `cause`). A TypeError is
 * passed through: a bad argument (an unsafe key) is our bug, not the store's.
 */
export function storeFailure(code: StoreFailureCode, key: string, err: unknown): Error {
  if (err instanceof TypeError) return err;
  const said = err === undefined ? 'not tried yet' : describeStoreError(err);
  const message = {
    'store-rejected': `store refused ${key}: ${said}`,
    'store-unavailable': `store unavailable for ${key}, retries exhausted: ${said}`,
    'store-closed': `upload of ${key} given up at close(), may not be in the store: ${said}`,
  }[code];
  return new DependencyError(code, message, { cause: err });
}
