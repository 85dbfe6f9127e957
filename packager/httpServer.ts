import type http from 'node:http';

/**
 * Options for an HTTP server that serves the origin (pass to
 * `http.createServer`). Players and CDNs keep connections open between
 * requests, and a connection can sit idle for seconds (a socket used for an
 * occasional init or segment fetch, a CDN's pooled upstream connection).
 * Node's default keepAliveTimeout (5 s) closes such a socket just as the
 * client reuses it, and the request written on it meets a reset
 * (ECONNRESET / "socket hang up" on a reused socket: seen in bench:load
 * trials with the 5 s default). 75 s is nginx's keepalive_timeout and
 * above CDNs' origin keep-alive (CloudFront at most 60 s); headersTimeout
 * above it, as Node's docs advise, so the header timer never ends an idle
 * kept-alive connection first.
 */
export const originServerOptions = {
  keepAliveTimeout: 75_000,
  headersTimeout: 76_000,
} as const satisfies http.ServerOptions;
