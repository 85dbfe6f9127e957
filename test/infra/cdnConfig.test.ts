// The CDN configuration operators get is one set of rules in two forms: the
// nginx files in infra/nginx (what test/helpers/nginx.ts runs in every test
// and benchmark with a CDN) and the CloudFront cache policies in
// infra/terraform. Both files are read, each one's rule is worked out for the
// URLs a viewer asks for, and the two must agree: the same query parameters in
// the cache key, no header or cookie in it, and the origin's Cache-Control
// deciding what is kept and for how long.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { INFRA_NGINX, NginxCdn } from '../helpers/nginx.ts';
import { cacheControl, names } from '../../packager/naming.ts';

const TERRAFORM = path.resolve(import.meta.dirname, '../../infra/terraform');
type Block = Record<string, unknown>;
const first = (v: unknown): Block => (Array.isArray(v) ? (v[0] as Block) : (v as Block));

// ---- nginx: the map that builds the key's query, and the location's directives ----
const httpConf = readFileSync(path.join(INFRA_NGINX, 'cdn-http.conf'), 'utf8');
const locationConf = readFileSync(path.join(INFRA_NGINX, 'cdn-location.conf'), 'utf8');
const directives = (conf: string) => conf.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

/** The `map $uri $stagecast_cache_query` entries in order: [regex or 'default', value]. */
function nginxMap(): [RegExp | 'default', string][] {
  const body = /map \$uri \$stagecast_cache_query \{([^}]*)\}/.exec(httpConf.replace(/#.*$/gm, ''));
  assert.ok(body, 'cdn-http.conf maps $uri to $stagecast_cache_query');
  return body[1]!
    .split(';')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\s+(.+)$/.exec(l)!;
      const value = m[2]!.replace(/^"(.*)"$/, '$1');
      return [m[1] === 'default' ? 'default' : new RegExp(m[1]!.replace(/^~/, '')), value];
    });
}

/** What nginx puts in the key of a request: the query arguments by name (undefined: the whole query). */
function nginxKeyQuery(uri: string): string[] | undefined {
  const map = nginxMap();
  // nginx tries the regexes in order and falls back to default.
  const hit = map.find(([re]) => re !== 'default' && re.test(uri)) ?? map.find(([re]) => re === 'default');
  assert.ok(hit, `the map decides ${uri}`);
  if (hit[1] === '$args') return undefined;
  return [...hit[1].matchAll(/\$arg_(\w+)/g)].map((m) => m[1]!).sort();
}

// ---- CloudFront: the behaviour a path matches, and its cache policy ----
async function cloudFront() {
  const resources: Record<string, Record<string, Block[]>> = {};
  for (const f of readdirSync(TERRAFORM).filter((n) => n.endsWith('.tf'))) {
    const json = (await parse(f, readFileSync(path.join(TERRAFORM, f), 'utf8'))) as { resource?: typeof resources };
    for (const [type, byName] of Object.entries(json.resource ?? {})) resources[type] = { ...resources[type], ...byName };
  }
  const dist = resources.aws_cloudfront_distribution!.live![0]!;
  const policies = resources.aws_cloudfront_cache_policy!;
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  /** The policy of the first ordered behaviour whose path pattern matches (else the default behaviour's). */
  return (uri: string): { name: string; policy: Block | undefined } => {
    const behaviour = (dist.ordered_cache_behavior as Block[]).find((b) => glob(b.path_pattern as string).test(uri)) ?? first(dist.default_cache_behavior);
    const ref = /^\$\{aws_cloudfront_cache_policy\.(\w+)\.id\}$/.exec(behaviour.cache_policy_id as string);
    return ref ? { name: ref[1]!, policy: policies[ref[1]!]![0]! } : { name: `managed ${String(behaviour.cache_policy_id)}`, policy: undefined };
  };
}

/** What CloudFront puts in the key: query names (undefined: all of them; [] none), or null when it does not cache. */
function cloudFrontKeyQuery(policy: Block | undefined): string[] | undefined | null {
  if (!policy) return null; // Managed-CachingDisabled
  const qs = first(first(policy.parameters_in_cache_key_and_forwarded_to_origin).query_strings_config);
  if (qs.query_string_behavior === 'none') return [];
  if (qs.query_string_behavior === 'all') return undefined;
  assert.equal(qs.query_string_behavior, 'whitelist');
  return [...(first(qs.query_strings).items as string[])].sort();
}

const maxAge = (cc: string): number | undefined => (/no-store|no-cache|private/.test(cc) ? 0 : Number(/max-age=(\d+)/.exec(cc)?.[1] ?? NaN));

// The URLs a viewer asks for (on the CDN: /b/<node>/live/<broadcast>/…), with what the origin answers them with.
const B = '/b/broadcast-0/live/weekly-20261204T101500Z';
const requests: { uri: string; cc: string[] }[] = [
  { uri: `${B}/master.m3u8`, cc: [cacheControl.manifest(names.master, false, false), cacheControl.manifest(names.master, true, false)] },
  { uri: '/b/broadcast-0/live/weekly/master.m3u8', cc: ['public, max-age=1', 'public, max-age=10'] }, // the stage's stable link (a redirect)
  { uri: `${B}/manifest.mpd`, cc: [cacheControl.manifest(names.mpd, false, false), cacheControl.manifest(names.mpd, true, false)] },
  { uri: `${B}/video-720p/index.m3u8`, cc: [cacheControl.manifest(names.playlist, false, false), cacheControl.manifest(names.playlist, false, true), cacheControl.manifest(names.playlist, true, true)] },
  { uri: `${B}/audio/index.m3u8`, cc: [cacheControl.manifest(names.playlist, false, true)] },
  { uri: `${B}/video-720p/init-0.mp4`, cc: [cacheControl.immutable] },
  { uri: `${B}/video-720p/seg-12.m4s`, cc: [cacheControl.immutable, cacheControl.notFound] },
  { uri: `${B}/video-720p/part-12.3.m4s`, cc: [cacheControl.immutable, cacheControl.notFound] },
  { uri: '/b/broadcast-0/live/time', cc: [cacheControl.error] },
];

test('nginx and CloudFront key every viewer request on the same query parameters and on no header or cookie', async () => {
  const behaviourOf = await cloudFront();
  for (const { uri } of requests) {
    const cf = behaviourOf(uri);
    const cfKey = cloudFrontKeyQuery(cf.policy);
    if (cfKey === null) {
      // CloudFront does not cache it; nginx may key it as it likes, the origin's no-store keeps it out.
      assert.ok(requests.find((r) => r.uri === uri)!.cc.every((c) => maxAge(c) === 0), `${uri}: uncached on CloudFront (${cf.name}), so the origin must say no-store/no-cache`);
      continue;
    }
    assert.deepEqual(nginxKeyQuery(uri), cfKey, `${uri}: nginx keys on ${JSON.stringify(nginxKeyQuery(uri))}, CloudFront (${cf.name}) on ${JSON.stringify(cfKey)}`);
    const params = first(cf.policy!.parameters_in_cache_key_and_forwarded_to_origin);
    assert.equal(first(params.headers_config).header_behavior, 'none', `${uri}: no header in CloudFront's key`);
    assert.equal(first(params.cookies_config).cookie_behavior, 'none', `${uri}: no cookie in CloudFront's key`);
  }
  // The blocking reload really is keyed on the three directives (not on nothing, which would serve one reload to all).
  assert.deepEqual(nginxKeyQuery(`${B}/video-720p/index.m3u8`), ['_HLS_msn', '_HLS_part', '_HLS_skip']);
  // A viewer page keys on its whole query on both (?stage=…).
  assert.equal(nginxKeyQuery('/b/broadcast-0/watch/index.html'), undefined);
  assert.equal(cloudFrontKeyQuery(behaviourOf('/b/broadcast-0/watch/index.html').policy), undefined);

  const key = directives(locationConf).find((d) => d.startsWith('proxy_cache_key '));
  assert.equal(key, 'proxy_cache_key $scheme$proxy_host$uri?$stagecast_cache_query;', 'nginx keys on the path and the mapped query only');
  assert.ok(!/\$http_|\$cookie_/.test(key!), 'no header or cookie in nginx key');
});

test('both keep what the origin says for as long as it says: nginx honours Cache-Control, CloudFront TTLs bound nothing the origin sends', async () => {
  const behaviourOf = await cloudFront();
  const loc = directives(locationConf);
  assert.ok(!loc.some((d) => /^proxy_ignore_headers\b/.test(d)), 'nginx does not ignore Cache-Control or Expires');
  assert.ok(!loc.some((d) => /^proxy_cache_valid\b/.test(d)), 'nginx sets no TTL of its own (used only without Cache-Control)');
  assert.ok(loc.includes('proxy_cache_lock on;'), 'concurrent identical requests make one origin pull');
  for (const { uri, cc } of requests) {
    const { name, policy } = behaviourOf(uri);
    for (const c of cc) {
      const origin = maxAge(c)!;
      assert.ok(Number.isFinite(origin), `${uri}: ${c} has a max-age`);
      if (!policy) {
        assert.equal(origin, 0, `${uri} is uncached on CloudFront, and the origin says ${c}`);
        continue;
      }
      // CloudFront's TTL for an answer with max-age: clamp(max-age, min_ttl, max_ttl). nginx's: max-age.
      const cf = Math.min(Math.max(origin, Number(policy.min_ttl)), Number(policy.max_ttl));
      assert.equal(cf, origin, `${uri} with "${c}": CloudFront (${name}, TTL ${policy.min_ttl}–${policy.max_ttl}) keeps it ${cf} s, nginx ${origin} s`);
    }
  }
});

test('the nginx.conf every test and benchmark runs includes the operators\' files unchanged, and nginx accepts it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stagecast-nginx-conf-'));
  try {
    const conf = NginxCdn.config(dir, 8080, [{ id: 'broadcast-0', url: 'http://127.0.0.1:9000' }]);
    assert.ok(conf.includes(`include ${path.join(INFRA_NGINX, 'cdn-http.conf')};`));
    assert.ok(conf.includes(`include ${path.join(INFRA_NGINX, 'cdn-location.conf')};`));
    assert.ok(!/proxy_cache_key|proxy_cache_lock|proxy_ignore_headers|proxy_cache_valid/.test(conf), 'no caching rule of its own beside the included ones');
    const file = path.join(dir, 'nginx.conf');
    execFileSync('mkdir', ['-p', path.join(dir, 'tmp')]);
    execFileSync('sh', ['-c', `cat > ${file}`], { input: conf });
    // -t parses every included file and checks the directives in their contexts.
    execFileSync('/usr/sbin/nginx', ['-t', '-q', '-p', dir, '-c', file, '-e', path.join(dir, 'error.log')], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
