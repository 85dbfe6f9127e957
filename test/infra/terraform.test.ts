// Terraform for S3 + CloudFront, checked statically: parsed with @cdktf/hcl2json
// (HashiCorp's HCL parser compiled to wasm) and the fields the design relies on
// asserted; `terraform fmt -check` and `terraform validate` run too when the
// terraform binary and a local provider mirror are installed (no registry here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../infra/terraform');

type Block = Record<string, unknown>;
type Tf = { resource: Record<string, Record<string, Block[]>>; variable?: Record<string, Block[]>; output?: Record<string, Block[]>; locals?: Block[] };

async function load(): Promise<Tf> {
  const merged: Tf = { resource: {}, variable: {}, output: {}, locals: [] };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.tf'))) {
    const json = (await parse(file, readFileSync(path.join(dir, file), 'utf8'))) as Partial<Tf>;
    for (const [type, byName] of Object.entries(json.resource ?? {})) merged.resource[type] = { ...merged.resource[type], ...byName };
    Object.assign(merged.variable!, json.variable);
    Object.assign(merged.output!, json.output);
    merged.locals!.push(...(json.locals ?? []));
  }
  return merged;
}

const one = (tf: Tf, type: string, name: string): Block => {
  const b = tf.resource[type]?.[name]?.[0];
  assert.ok(b, `resource ${type}.${name} exists`);
  return b;
};
const first = (v: unknown): Block => (Array.isArray(v) ? (v[0] as Block) : (v as Block));

test('the bucket has CORS for players, lifecycle rules for DVR/VOD retention, no public access, and only CloudFront (OAC) may read it', async () => {
  const tf = await load();
  one(tf, 'aws_s3_bucket', 'media');
  const cors = first(one(tf, 'aws_s3_bucket_cors_configuration', 'media').cors_rule);
  assert.deepEqual(cors.allowed_methods, ['GET', 'HEAD']);
  assert.ok((cors.allowed_headers as string[]).includes('Range'));
  assert.ok((cors.expose_headers as string[]).includes('Age'), 'hls.js uses Age for tune-in');

  const rules = one(tf, 'aws_s3_bucket_lifecycle_configuration', 'media').rule as Block[];
  const retention = rules.find((r) => r.id === 'recordings-retention');
  assert.ok(retention, 'a retention rule');
  assert.equal(retention.status, 'Enabled');
  assert.equal(first(retention.filter).prefix, 'b/', 'applies to what broadcast nodes write (b/<node>/live/…)');
  assert.equal(first(retention.expiration).days, '${var.vod_retention_days}');
  assert.equal(first(retention.transition).storage_class, 'STANDARD_IA');
  assert.ok(rules.some((r) => r.abort_incomplete_multipart_upload), 'incomplete uploads are cleaned up');
  const v = tf.variable!;
  assert.ok(Number(first(v.vod_retention_days).default) > Number(first(v.infrequent_access_after_days).default), 'expiry comes after the IA transition');

  const pab = one(tf, 'aws_s3_bucket_public_access_block', 'media');
  for (const k of ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']) assert.equal(pab[k], true, k);
  const oac = one(tf, 'aws_cloudfront_origin_access_control', 'media');
  assert.equal(oac.origin_access_control_origin_type, 's3');
  assert.equal(oac.signing_behavior, 'always');
  const policy = readFileSync(path.join(dir, 's3.tf'), 'utf8');
  assert.match(policy, /AWS:SourceArn[\s\S]*aws_cloudfront_distribution\.live\.arn/, 'bucket policy limited to this distribution');
});

test('CloudFront: the live origin is primary with the bucket as failover, one origin group for every media behaviour', async () => {
  const tf = await load();
  const dist = one(tf, 'aws_cloudfront_distribution', 'live');
  const locals = Object.assign({}, ...tf.locals!) as Record<string, string>;
  const origins = dist.origin as Block[];
  const live = origins.find((o) => o.origin_id === '${local.live_origin_id}');
  const store = origins.find((o) => o.origin_id === '${local.store_origin_id}');
  assert.ok(live?.custom_origin_config, 'the live edge is a custom origin');
  assert.equal(live.domain_name, '${var.live_origin_domain}');
  assert.ok(Number(first(live.custom_origin_config).origin_read_timeout) >= 10, 'blocking reloads may wait at the origin');
  assert.equal(store?.origin_access_control_id, '${aws_cloudfront_origin_access_control.media.id}');

  const group = first(dist.origin_group);
  const members = (group.member as Block[]).map((m) => m.origin_id);
  assert.deepEqual(members, ['${local.live_origin_id}', '${local.store_origin_id}'], 'live first, bucket as failover');
  const codes = first(group.failover_criteria).status_codes as number[];
  for (const c of [404, 500, 502, 503, 504]) assert.ok(codes.includes(c), `fails over on ${c}`);
  assert.ok(locals.group_id, 'group id defined');

  const behaviours = dist.ordered_cache_behavior as Block[];
  for (const b of behaviours.filter((x) => /\.(m3u8|mpd|m4s|mp4)$/.test(String(x.path_pattern)))) {
    assert.equal(b.target_origin_id, '${local.group_id}', `${b.path_pattern} goes to the origin group`);
    assert.deepEqual(b.allowed_methods, ['GET', 'HEAD', 'OPTIONS'], 'origin groups allow only GET/HEAD/OPTIONS');
  }
});

test('cache policies: LL playlists keyed by _HLS_msn/_HLS_part/_HLS_skip, multivariant short, segments and init long, in that order', async () => {
  const tf = await load();
  const policies = tf.resource.aws_cloudfront_cache_policy!;
  const ttl = (name: string) => {
    const p = policies[name]![0]!;
    return { min: Number(p.min_ttl), def: Number(p.default_ttl), max: Number(p.max_ttl), params: first(p.parameters_in_cache_key_and_forwarded_to_origin) };
  };
  const ll = ttl('ll_playlist');
  assert.equal(ll.def, 1);
  assert.equal(ll.min, 0, 'the origin says how long (test/infra/cdnConfig.test.ts compares every TTL with it)');
  const qs = first(ll.params.query_strings_config);
  assert.equal(qs.query_string_behavior, 'whitelist');
  assert.deepEqual([...(first(qs.query_strings).items as string[])].sort(), ['_HLS_msn', '_HLS_part', '_HLS_skip']);

  const manifest = ttl('manifest');
  assert.ok(manifest.def <= 2 && manifest.min === 0, 'multivariant playlist and MPD are short-lived unless the origin says otherwise');
  const media = ttl('media');
  assert.equal(media.def, 1209600, 'segments and init: 14 days');
  assert.equal(first(media.params.query_strings_config).query_string_behavior, 'none', 'media keys ignore queries');

  // Ordered behaviours: first match wins, so the multivariant pattern must precede the generic playlist one.
  const behaviours = one(tf, 'aws_cloudfront_distribution', 'live').ordered_cache_behavior as Block[];
  const policyOf = (pattern: string) => behaviours.find((b) => b.path_pattern === pattern)?.cache_policy_id;
  const index = (pattern: string) => behaviours.findIndex((b) => b.path_pattern === pattern);
  assert.equal(policyOf('/b/*/master.m3u8'), '${aws_cloudfront_cache_policy.manifest.id}');
  assert.equal(policyOf('/b/*.m3u8'), '${aws_cloudfront_cache_policy.ll_playlist.id}');
  assert.equal(policyOf('/b/*.mpd'), '${aws_cloudfront_cache_policy.manifest.id}');
  assert.equal(policyOf('/b/*.m4s'), '${aws_cloudfront_cache_policy.media.id}');
  assert.equal(policyOf('/b/*.mp4'), '${aws_cloudfront_cache_policy.media.id}');
  assert.ok(index('/b/*/master.m3u8') < index('/b/*.m3u8'), 'master before the generic playlist pattern');
});

const pluginDir = process.env.TF_PLUGIN_DIR ?? '/opt/tf-plugins';
const terraform = ['/usr/local/bin/terraform', '/usr/bin/terraform'].find((p) => existsSync(p));

test('terraform fmt -check and terraform validate (with a local provider mirror)', { skip: !terraform || !existsSync(pluginDir) ? `terraform or ${pluginDir} not installed` : false }, () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'stagecast-tf-'));
  try {
    cpSync(dir, work, { recursive: true, filter: (src) => !src.includes('.terraform') });
    const run = (...args: string[]) => execFileSync(terraform!, args, { cwd: work, encoding: 'utf8', env: { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    run('fmt', '-check', '-recursive');
    run('init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${pluginDir}`);
    assert.match(run('validate', '-no-color'), /The configuration is valid/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
