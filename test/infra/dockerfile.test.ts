// The container build file, checked statically: no Docker daemon here to build
// it and no Dockerfile linter installable (hadolint ships only as a GitHub
// binary or a pip wrapper that downloads it; neither npm nor Debian has one), so
// the instructions are parsed and the rules a linter would enforce are asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Instructions with their stage: continuation lines joined, comments dropped. */
function parseDockerfile(text: string): { stage: number; op: string; args: string }[] {
  const joined = text.replace(/\\\n/g, ' ');
  const out: { stage: number; op: string; args: string }[] = [];
  let stage = -1;
  for (const line of joined.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(t);
    assert.ok(m, `an instruction: ${t}`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ stage, op, args: m[2]!.replace(/\s+/g, ' ') });
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(path.join(root, 'infra/docker/Dockerfile'), 'utf8'));
const last = Math.max(...dockerfile.map((i) => i.stage));
const runtime = dockerfile.filter((i) => i.stage === last);

test('the image runs the Node.js major the project is developed and tested with (.nvmrc)', () => {
  const nvmrc = readFileSync(path.join(root, '.nvmrc'), 'utf8').trim().replace(/^v/, '');
  const arg = dockerfile.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_MAJOR='));
  assert.ok(arg, 'ARG NODE_MAJOR');
  assert.equal(arg.args.split('=')[1], nvmrc.split('.')[0]);
  for (const f of dockerfile.filter((i) => i.op === 'FROM')) assert.match(f.args, /^node:\$\{NODE_MAJOR\}-bookworm/);
});

test('multi-stage: dependencies and the mediasoup worker built in one stage, copied into a slim runtime', () => {
  const froms = dockerfile.filter((i) => i.op === 'FROM');
  assert.ok(froms.length >= 2, 'at least two stages');
  assert.match(froms[0]!.args, /AS build$/);
  assert.match(froms.at(-1)!.args, /bookworm-slim AS runtime$/);
  const build = dockerfile.filter((i) => i.stage === 0);
  const ci = build.find((i) => i.op === 'RUN' && i.args.includes('npm ci'));
  assert.ok(ci, 'npm ci in the build stage');
  assert.match(ci.args, /--omit=dev/, 'no dev dependencies');
  assert.match(ci.args, /scripts\/mediasoup-worker\/build\.sh/, 'falls back to our worker build');
  assert.ok(runtime.some((i) => i.op === 'COPY' && /--from=build/.test(i.args)));
});

test('runtime: FFmpeg from the distribution, a non-root USER, a HEALTHCHECK on /healthz, tini as PID 1, exec-form CMD', () => {
  const apt = runtime.find((i) => i.op === 'RUN' && i.args.includes('apt-get install'));
  assert.ok(apt && /\bffmpeg\b/.test(apt.args), 'ffmpeg from apt');
  assert.match(apt.args, /--no-install-recommends/);
  assert.match(apt.args, /rm -rf \/var\/lib\/apt\/lists/, 'apt lists removed in the same layer');
  const users = runtime.filter((i) => i.op === 'USER');
  assert.equal(users.length, 1);
  assert.doesNotMatch(users[0]!.args, /^(root|0)(:|$)/, 'not root');
  const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(hc && /\/healthz/.test(hc.args), 'HEALTHCHECK hits /healthz');
  assert.match(runtime.find((i) => i.op === 'ENTRYPOINT')!.args, /tini/, 'signals reach node (SIGTERM drains)');
  const cmd = runtime.find((i) => i.op === 'CMD')!;
  assert.deepEqual(JSON.parse(cmd.args), ['node', '--import', 'tsx', 'main.ts']);
  // Lint rules (hadolint's DL3007/DL3020/DL3025 spirit): pinned bases, COPY not ADD.
  for (const f of dockerfile.filter((i) => i.op === 'FROM')) assert.doesNotMatch(f.args, /:latest\b/);
  assert.ok(!dockerfile.some((i) => i.op === 'ADD'), 'COPY, not ADD');
});

test('.dockerignore keeps node_modules, data, secrets and git out of the build context', () => {
  const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', 'data', '.git', '**/.env']) assert.ok(ignore.includes(p), p);
});

test('compose: the app (role all) with MinIO as S3, the bucket created before the app starts', async () => {
  const { parse } = await import('yaml');
  const compose = parse(readFileSync(path.join(root, 'infra/compose.yaml'), 'utf8')) as {
    services: Record<string, { environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; image?: string; build?: { dockerfile: string } }>;
  };
  const app = compose.services.app!;
  assert.equal(app.build?.dockerfile, 'infra/docker/Dockerfile');
  assert.equal(app.environment?.STAGECAST_ROLE, 'all');
  assert.equal(app.environment?.STAGECAST_S3_ENDPOINT, 'http://minio:9000');
  assert.equal(app.environment?.STAGECAST_S3_FORCE_PATH_STYLE, 'true');
  assert.equal(app.depends_on?.['create-bucket']?.condition, 'service_completed_successfully');
  assert.equal(compose.services['create-bucket']?.depends_on?.minio?.condition, 'service_healthy');
  assert.match(compose.services.minio!.image!, /^minio\/minio:RELEASE\./, 'pinned MinIO');
  assert.ok(!Object.values(compose.services).some((s) => s.image?.endsWith(':latest')));
});
