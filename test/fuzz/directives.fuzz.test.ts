// Property-based fuzzing of the LL-HLS delivery directives at a running origin
// (real FFmpeg media landing in the packager while the requests arrive):
// `_HLS_msn`, `_HLS_part`, `_HLS_skip` with negative, huge, non-numeric, empty,
// duplicated and oddly encoded values, in any combination. Every answer is
// what the spec's rules say (rfc8216bis §6.2.5): 400 for a malformed directive,
// `_HLS_part` without `_HLS_msn`, or an `_HLS_msn` beyond the next segment; 200
// otherwise (503 only when a well-formed blocking request times out, as the spec
// allows); never another 5xx, and never a hang (each request has a deadline).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pushInProcess, startHarness, until, type FfmpegRun, type Harness } from '../packager/helpers.ts';

const B = 'fuzzlive';
const TRACK = 'video-360p';
const BLOCKING_TIMEOUT_MS = 2000;
let h: Harness;
let run: FfmpegRun;

before(async () => {
  h = await startHarness({ blockingTimeoutMs: BLOCKING_TIMEOUT_MS });
  run = pushInProcess(h.packager, B, 120);
  const b = h.packager.getBroadcast(B)!;
  await until(h.packager, B, () => b.tracks.length === 3 && b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 20_000, "three complete segments on every track (playlists are served from then on)");
});
after(async () => {
  await run?.stop();
  await h?.close();
});

const current = () => h.packager.getBroadcast(B)!.track(TRACK)!.current!.msn;

type Value = { text: string; kind: 'small' | 'next' | 'far' | 'bad' };

/** A directive value, with what it is relative to the live edge at request time. */
const value: fc.Arbitrary<() => Value> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 2 }).map((back): (() => Value) => () => ({ text: String(Math.max(0, current() - back)), kind: 'small' })) },
  { weight: 1, arbitrary: fc.constant((): Value => ({ text: String(current() + 1), kind: 'next' })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('1000000', '999999999999', '4294967296')
      .map((t): (() => Value) => () => ({ text: t, kind: 'far' })),
  },
  {
    weight: 4,
    arbitrary: fc
      .oneof(
        fc.constantFrom('-1', '', ' 1', '1 ', '+1', '1.0', '1e3', '0x10', 'NaN', 'Infinity', '9999999999999', '99999999999999999999999', '١', '%00', '1%00', 'YES', 'null', '[]'),
        fc.string({ maxLength: 12 }).filter((s) => !/^\d{1,12}$/.test(s)),
      )
      .map((t): (() => Value) => () => ({ text: t, kind: 'bad' })),
  },
);

const skipValue = fc.oneof(fc.constantFrom('YES', 'v2'), fc.constantFrom('NO', 'yes', 'V2', '', 'YES,v2', 'true', '1'), fc.string({ maxLength: 6 }));

/** One request: which directives are present (and how often), with what values. */
const values = (max: number): fc.Arbitrary<(() => Value)[]> => fc.array(value, { maxLength: max });
const request = fc.record({
  msn: fc.oneof({ weight: 3, arbitrary: values(1) }, { weight: 1, arbitrary: values(2) }),
  part: fc.oneof({ weight: 2, arbitrary: values(0) }, { weight: 2, arbitrary: values(1) }, { weight: 1, arbitrary: values(2) }),
  skip: fc.oneof(
    { weight: 3, arbitrary: fc.constant<string[]>([]) },
    { weight: 2, arbitrary: fc.constantFrom('YES', 'v2').map((v): string[] => [v]) },
    { weight: 2, arbitrary: fc.array(skipValue, { maxLength: 2 }) },
  ),
  order: fc.boolean(),
});

/** The spec's answer for a request, from its directives (as the server sees them at request time). */
function expected(msn: Value[], part: Value[], skip: string[]): { status: 400 | 200; reason: string } {
  const malformed = (vs: Value[]) => vs.length > 1 || vs.some((v) => v.kind === 'bad');
  if (malformed(msn)) return { status: 400, reason: '_HLS_msn malformed or repeated' };
  if (malformed(part)) return { status: 400, reason: '_HLS_part malformed or repeated' };
  if (part.length && !msn.length) return { status: 400, reason: '_HLS_part without _HLS_msn' };
  if (skip.length > 1 || (skip.length === 1 && skip[0] !== 'YES' && skip[0] !== 'v2')) return { status: 400, reason: 'bad _HLS_skip' };
  if (msn[0]?.kind === 'far') return { status: 400, reason: '_HLS_msn beyond the next segment' };
  return { status: 200, reason: 'well-formed' };
}

test('delivery directives: the spec’s 400s, otherwise the playlist; never another 5xx, never a hang', async (t) => {
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const msn = r.msn.map((f) => f());
      const part = r.part.map((f) => f()).map((v) => (v.kind === 'small' || v.kind === 'next' ? { ...v, text: String(Number(v.text) % 5) } : v));
      const params: [string, string][] = [
        ...msn.map((v): [string, string] => ['_HLS_msn', v.text]),
        ...part.map((v): [string, string] => ['_HLS_part', v.text]),
        ...r.skip.map((s): [string, string] => ['_HLS_skip', s]),
      ];
      if (r.order) params.reverse();
      const qs = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      const want = expected(msn, part, r.skip);
      const t0 = performance.now();
      const res = await fetch(`${h.base}/live/${B}/${TRACK}/index.m3u8${qs ? `?${qs}` : ''}`, { signal: AbortSignal.timeout(BLOCKING_TIMEOUT_MS + 3000) });
      const body = await res.text();
      const ms = performance.now() - t0;
      seen.set(`${res.status}`, (seen.get(`${res.status}`) ?? 0) + 1);
      const blocking = msn.length === 1 && want.status === 200;
      if (res.status === 503) {
        // Allowed by the spec only for a well-formed blocking request whose part did not arrive in time.
        assert.ok(blocking && ms >= BLOCKING_TIMEOUT_MS - 50, `503 for ?${qs} after ${ms.toFixed(0)} ms`);
        return;
      }
      assert.equal(res.status, want.status, `?${qs}: ${want.reason}; answered ${res.status} ${body.slice(0, 80)}`);
      if (res.status === 400) {
        assert.match(body, /_HLS_(msn|part|skip)/, 'the 400 says which directive is wrong');
        assert.equal(res.headers.get('cache-control'), 'no-store');
      } else {
        assert.match(body, /^#EXTM3U/);
        if (r.skip[0] && want.status === 200) assert.match(body, /#EXT-X-SKIP:SKIPPED-SEGMENTS=|#EXT-X-MEDIA-SEQUENCE/);
      }
    }),
    { numRuns: 250, interruptAfterTimeLimit: 120_000 },
  );
  t.diagnostic(`answers by status: ${JSON.stringify(Object.fromEntries(seen))}`);
  assert.ok((seen.get('400') ?? 0) > 20 && (seen.get('200') ?? 0) > 20, `both outcomes reached: ${JSON.stringify([...seen])}`);
});
