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

const LOG_FORMAT = `'$msec "$request_method" "$request_uri" $status $upstream_cache_status "$upstream_http_cache_control" $request_time'`;

/**
 * nginx (Debian's package) as a caching reverse proxy standing in for a CDN's
 * origin pulls: one location per broadcast node, `/b/<nodeId>/` → that node,
 * caching what the origin's Cache-Control allows, the query in the key (so
 * each `_HLS_msn`/`_HLS_part`/`_HLS_skip` blocking reload is its own object)
 * and `proxy_cache_lock` so identical concurrent requests make one origin pull.
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

  static config(dir: string, port: number, nodes: { id: string; url: string }[]): string {
    const upstreams = nodes.map((n) => `  upstream node_${n.id.replace(/-/g, '_')} { server ${new URL(n.url).host}; keepalive 16; }`).join('\n');
    const locations = nodes
      .map(
        (n) => `    location /b/${n.id}/ {
      proxy_pass http://node_${n.id.replace(/-/g, '_')};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_cache live;
      # The query is part of the key: a blocking reload names one version of the playlist.
      proxy_cache_key $scheme$proxy_host$request_uri;
      # Identical concurrent requests wait for the first one's answer (one origin pull).
      # The lock must outlast the origin's longest blocking wait, or waiters go to the origin.
      proxy_cache_lock on;
      proxy_cache_lock_timeout 15s;
      proxy_cache_lock_age 15s;
      proxy_read_timeout 30s;
      add_header X-Cache-Status $upstream_cache_status always;
    }`,
      )
      .join('\n');
    // As root nginx would switch its workers to nobody, who cannot write the temp dir.
    const user = process.getuid?.() === 0 ? 'user root;\n' : '';
    return `${user}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format cdn ${LOG_FORMAT};
  access_log ${dir}/access.log cdn;
  client_body_temp_path ${dir}/tmp/client;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=live:10m max_size=256m inactive=10m use_temp_path=off;
${upstreams}
  server {
    listen 127.0.0.1:${port};
${locations}
    location = /nginx-ready { access_log off; return 200 "ok"; }
    location / { return 404; }
  }
}
`;
  }

  static async start(dir: string, nodes: { id: string; url: string }[]): Promise<NginxCdn> {
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const port = await freeTcpPort();
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, NginxCdn.config(dir, port, nodes));
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

  get running(): boolean {
    return this.#proc.running;
  }
}
