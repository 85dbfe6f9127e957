// The hls.js settings our LL-HLS streams are made for, shared by the viewer
// page, the <stagecast-player> element and embedding sites (exported from
// /watch/stagecast.js). Type-only import: a site spreads them into its own hls.js.
import type { HlsConfig } from 'hls.js';

/** A fresh object each call, so a caller may change it. */
export function stagecastHlsConfig(): Partial<HlsConfig> {
  return {
    // Blocking playlist reload and parts: what makes the latency low at all.
    lowLatencyMode: true,
    backBufferLength: 30,
    // Network errors are retried by hls.js with these policies before they turn fatal.
    manifestLoadPolicy: {
      default: {
        maxTimeToFirstByteMs: 10_000,
        maxLoadTimeMs: 20_000,
        timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 1, retryDelayMs: 1000, maxRetryDelayMs: 8000 },
      },
    },
  };
}
