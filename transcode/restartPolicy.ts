import type { RetryConfig } from './config.ts';

/**
 * The supervisor's restart rule, pure: the policy is plain data
 * (`supervision.restart`: maxRetries, delayMs, maxDelayMs, backoff, as hls.js's
 * RetryConfig) and this decides the next step from it.
 */

/** What follows a failed run: another start after `delayMs`, or giving up. */
export type RestartStep =
  | { readonly kind: 'retry'; readonly attempt: number; readonly delayMs: number }
  | { readonly kind: 'give-up'; readonly attempt: number };

/**
 * The step after a failure, `attempt` being the consecutive failures before it
 * (0 after a run ran). The count goes up by one and the delay backs off:
 * delayMs × backoff^(attempt − 1), at most maxDelayMs; past maxRetries, give up.
 * A preempted start (a newer program stopped it) is no failure: the same count
 * and no delay.
 */
export function nextRestart(policy: RetryConfig, attempt: number, preempted = false): RestartStep {
  const next = preempted ? attempt : attempt + 1;
  if (next > policy.maxRetries) return { kind: 'give-up', attempt: next };
  const delayMs = preempted ? 0 : Math.min(policy.maxDelayMs, Math.round(policy.delayMs * policy.backoff ** (next - 1)));
  return { kind: 'retry', attempt: next, delayMs };
}
