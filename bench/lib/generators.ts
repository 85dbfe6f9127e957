/**
 * Load-generator processes: forked scripts that talk over IPC, so clients
 * never share an event loop with the origin or with the bookkeeping, and
 * several of them spread the connections over the cores.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Forks `n` copies of `script` and resolves once each has said it is ready. */
export function forkGenerators(script: string, n: number): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const g = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await new Promise<void>((resolve, reject) => {
        g.once('message', () => resolve());
        g.once('exit', (code) => reject(new Error(`generator exited with ${code} before it was ready`)));
      });
      g.removeAllListeners('exit');
      return g;
    }),
  );
}

/** Sends one job to every generator and collects one result message of `type` from each. */
export function all<T>(gens: ChildProcess[], job: (i: number) => object, type: string): Promise<T[]> {
  return Promise.all(
    gens.map(
      (g, i) =>
        new Promise<T>((resolve, reject) => {
          const on = (m: { type: string }) => {
            if (m.type === type) {
              g.off('message', on).off('exit', onExit);
              resolve(m as T);
            }
          };
          const onExit = (code: number | null) => reject(new Error(`generator ${i} exited with ${code} during a job`));
          g.on('message', on).once('exit', onExit);
          g.send(job(i));
        }),
    ),
  );
}

/** Tells each generator to exit and waits until it has. */
export async function stopGenerators(gens: ChildProcess[]): Promise<void> {
  await Promise.all(
    gens.map(async (g) => {
      if (g.exitCode !== null || g.signalCode !== null) return;
      const exited = once(g, 'exit');
      g.send({ type: 'exit' });
      await exited;
    }),
  );
}

/** Share of `n` items for generator `i` of `count` (the first ones take the remainder). */
export const share = (n: number, count: number, i: number): number => Math.floor(n / count) + (i < n % count ? 1 : 0);
