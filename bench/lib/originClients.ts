/**
 * A load-generator process for bench/origin.ts (forked; talks over IPC), so the
 * clients never share an event loop or a core budget with the measurement's
 * bookkeeping, and several of them spread the connections.
 *
 * `blocking`: `clients` clients, started evenly over `rampMs`, each holding
 *   `index.m3u8?_HLS_msn=…&_HLS_part=…` for the next part, then the next.
 *   Every response is kept as (part, sent, received) in wall-clock ms; the
 *   parent forwards part landings, and after the phase each response that was
 *   sent before its part landed gives a latency = received − landed.
 * `throughput`: `conns` keep-alive connections fetching the given paths in a
 *   loop for `ms`; counts requests and bytes.
 */
import http from 'node:http';
import { RawPool, type RawHttpError } from './rawHttp.ts';

type Msg =
  | { type: 'part'; msn: number; part: number; at: number }
  | { type: 'blocking'; port: number; clients: number; rampMs: number; warmupMs: number; measureMs: number; partsPerSeg: number }
  | { type: 'throughput'; port: number; conns: number; ms: number; paths: string[] }
  | { type: 'exit' };

const now = () => performance.timeOrigin + performance.now();
const landed = new Map<string, number>();
let latest = { msn: 0, part: -1 };

/** Failures by kind (HTTP status, or the socket error and whether the socket was a reused keep-alive one). */
const errorKinds = new Map<string, number>();
const countError = (kind: string) => errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);

function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => {
        if (res.statusCode !== 200) countError(`HTTP ${res.statusCode}`);
        resolve({ status: res.statusCode ?? 0, bytes });
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        countError(`response ${err.code ?? err.message}`);
        resolve({ status: -1, bytes });
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      countError(`${err.code ?? err.message} on a ${req.reusedSocket ? 'reused keep-alive' : 'new'} socket`);
      resolve({ status: -1, bytes: 0 });
    });
    req.setTimeout(15_000, () => req.destroy(Object.assign(new Error('no response in 15 s'), { code: 'TIMEOUT' })));
  });
}

/** The error kinds since the last call, then cleared. */
function takeErrorKinds(): Record<string, number> {
  const out = Object.fromEntries(errorKinds);
  errorKinds.clear();
  return out;
}

async function blocking(m: Extract<Msg, { type: 'blocking' }>): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const t0 = now();
  const measureFrom = t0 + m.rampMs + m.warmupMs;
  const end = measureFrom + m.measureMs;
  const next = (w: { msn: number; part: number }) => (w.part + 1 >= m.partsPerSeg ? { msn: w.msn + 1, part: 0 } : { msn: w.msn, part: w.part + 1 });
  const samples: { key: string; sent: number; at: number }[] = [];
  let errors = 0;
  const client = async (i: number) => {
    await new Promise((r) => setTimeout(r, (m.rampMs * i) / m.clients));
    let want = next(latest);
    while (now() < end) {
      const sent = now();
      const r = await get(agent, m.port, `/live/bench/video/index.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
      const at = now();
      if (r.status !== 200) {
        errors++;
        await new Promise((res) => setTimeout(res, 200));
      } else samples.push({ key: `${want.msn}.${want.part}`, sent, at });
      want = next(want);
      // A client behind the live edge jumps to the next part, as hls.js does.
      if (want.msn < latest.msn) want = next(latest);
    }
  };
  await Promise.all(Array.from({ length: m.clients }, (_, i) => client(i)));
  agent.destroy();
  await new Promise((r) => setTimeout(r, 50)); // last landings still on the IPC pipe
  const warm: number[] = [];
  const meas: number[] = [];
  let behind = 0;
  for (const s of samples) {
    const l = landed.get(s.key);
    if (l === undefined || s.sent >= l) {
      behind++;
      continue;
    }
    (s.sent >= measureFrom ? meas : warm).push(s.at - l);
  }
  process.send!({ type: 'blockingResult', warm, meas, behind, errors, errorKinds: takeErrorKinds(), responses: samples.length });
}

async function throughput(m: Extract<Msg, { type: 'throughput' }>): Promise<void> {
  // The lean client (bench/lib/rawHttp.ts): the server, not this process, should be what runs out of CPU.
  const pool = new RawPool('127.0.0.1', m.port, m.conns);
  let count = 0;
  let bytes = 0;
  let errors = 0;
  const end = performance.now() + m.ms;
  await Promise.all(
    Array.from({ length: m.conns }, async (_, c) => {
      let i = c;
      while (performance.now() < end) {
        try {
          const r = await pool.get(m.paths[i++ % m.paths.length]!, false);
          if (r.status === 200) {
            count++;
            bytes += r.bytes;
          } else {
            errors++;
            countError(`HTTP ${r.status}`);
          }
        } catch (err) {
          errors++;
          countError((err as RawHttpError).kind);
        }
      }
    }),
  );
  pool.destroy();
  process.send!({ type: 'throughputResult', count, bytes, errors, errorKinds: takeErrorKinds() });
}

process.on('message', (m: Msg) => {
  if (m.type === 'part') {
    landed.set(`${m.msn}.${m.part}`, m.at);
    latest = { msn: m.msn, part: m.part };
  } else if (m.type === 'blocking') void blocking(m);
  else if (m.type === 'throughput') void throughput(m);
  else if (m.type === 'exit') process.exit(0);
});
process.send!({ type: 'ready' });
