import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ChildHandle, freeTcpPort, waitForHttp } from './processes.ts';

/** One line of the access log written with the `cdn` format below. */
export interface CacheLogLine {
  method: string;
  uri: string;
  status: number;
  /** $upstream_cache_status: HIT, MISS, EXPIRED, UPDATING, STALE, BYPASS, REVALIDATED, or '-' (not cacheable location). */
  cache: string;
  cacheControl: string;
}

/** The operators' nginx files (docs/scaling.md): what every run here includes. */
export const INFRA_NGINX = path.resolve(import.meta.dirname, '../../infra/nginx');

export interface NginxOptions {
  /** Forward `/b/<id>/x` as `/x` (an origin that serves no `/b/<id>/` prefix, role `all`). */
  stripPrefix?: boolean;
  workers?: number;
  workerConnections?: number;
  upstreamKeepalive?: number;
  backlog?: number;
  /** Off, or buffered (a benchmark's hundreds of thousands of lines). */
  accessLog?: false | 'buffered';
}

const LOG_FORMAT = `'$msec "$request_method" "$request_uri" $status $upstream_cache_status "$upstream_http_cache_control" $request_time'`;

/**
 * nginx (Debian's package) as a caching reverse proxy standing in for a CDN's
 * origin pulls, configured with the files operators get (infra/nginx): one
 * location per broadcast node, `/b/<nodeId>/` → that node, caching what the
 * origin's Cache-Control allows, the delivery directives in the key (so each
 * `_HLS_msn`/`_HLS_part`/`_HLS_skip` blocking reload is its own object) and
 * `proxy_cache_lock` so identical concurrent requests make one origin pull.
 * Runs in the foreground on a free loopback port with its config, cache and
 * logs in `dir`.
 */
export class NginxCdn {
  readonly port: number;
  readonly dir: string;
  readonly #proc: ChildHandle;

  private constructor(dir: string, port: number, proc: ChildHandle) {
    this.dir = dir;
    this.port = port;
    this.#proc = proc;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get accessLog(): string {
    return path.join(this.dir, 'access.log');
  }

  /**
   * The whole nginx.conf: the operators' files from infra/nginx (the cache key's
   * map and each location's caching rules, included as they are) with this
   * run's paths, port and upstreams around them.
   */
  static config(dir: string, port: number, nodes: { id: string; url: string }[], opts: NginxOptions = {}): string {
    const upstream = (id: string) => `node_${id.replace(/-/g, '_')}`;
    const upstreams = nodes.map((n) => `  upstream ${upstream(n.id)} { server ${new URL(n.url).host}; keepalive ${opts.upstreamKeepalive ?? 16}; }`).join('\n');
    const locations = nodes
      .map(
        (n) => `    location /b/${n.id}/ {
      proxy_pass http://${upstream(n.id)}${opts.stripPrefix ? '/' : ''};
      include ${path.join(INFRA_NGINX, 'cdn-location.conf')};
    }`,
      )
      .join('\n');
    // As root nginx would switch its workers to nobody, who cannot write the temp dir.
    const user = process.getuid?.() === 0 ? 'user root;\n' : '';
    const workers = opts.workers ?? 1;
    const connections = opts.workerConnections ?? 1024;
    return `${user}worker_processes ${workers};
worker_rlimit_nofile ${connections * 2 + 64};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${connections}; }
http {
  log_format cdn ${LOG_FORMAT};
  access_log ${opts.accessLog === false ? 'off' : `${dir}/access.log cdn${opts.accessLog === 'buffered' ? ' buffer=256k flush=1s' : ''}`};
  keepalive_requests 100000;
  client_body_temp_path ${dir}/tmp/client;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=stagecast_live:10m max_size=512m inactive=10m use_temp_path=off;
  include ${path.join(INFRA_NGINX, 'cdn-http.conf')};
${upstreams}
  server {
    listen 127.0.0.1:${port}${opts.backlog ? ` backlog=${opts.backlog}` : ''};
${locations}
    location = /nginx-ready { access_log off; return 200 "ok"; }
    location / { return 404; }
  }
}
`;
  }

  static async start(dir: string, nodes: { id: string; url: string }[], opts: NginxOptions = {}): Promise<NginxCdn> {
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const port = await freeTcpPort();
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, NginxCdn.config(dir, port, nodes, opts));
    const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new ChildHandle('nginx', child, path.join(dir, 'nginx.out'));
    const cdn = new NginxCdn(dir, port, proc);
    await waitForHttp(`${cdn.url}/nginx-ready`, proc, 10_000).catch(async (err: Error) => {
      await proc.stop('SIGKILL');
      throw err;
    });
    return cdn;
  }

  /** The access log so far, parsed. */
  log(): CacheLogLine[] {
    const lines = readFileSync(this.accessLog, 'utf8').split('\n').filter(Boolean);
    return lines.map((line) => {
      const m = /^\S+ "(\S+)" "(\S+)" (\d{3}) (\S+) "([^"]*)"/.exec(line);
      if (!m) throw new Error(`unparsable access log line: ${line}`);
      return { method: m[1]!, uri: m[2]!, status: Number(m[3]), cache: m[4]!, cacheControl: m[5]! };
    });
  }

  /**
   * The access log once `ready(lines)` holds: nginx writes a request's line
   * after it has sent the response, so a client can hold its answer before the
   * line is there. Nothing signals the write; poll with a deadline.
   */
  async logWhen(ready: (lines: CacheLogLine[]) => boolean, timeoutMs = 5_000): Promise<CacheLogLine[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.log();
      if (ready(lines) || Date.now() > deadline) return lines;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Graceful stop (SIGQUIT lets workers finish), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    await this.#proc.stop('SIGQUIT', 5000);
  }

  /** The master's and its workers' pids (for CPU figures). */
  pids(): number[] {
    const master = this.#proc.child.pid;
    if (master === undefined) return [];
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // gone already
    }
    return [master, ...children];
  }

  get running(): boolean {
    return this.#proc.running;
  }
}
