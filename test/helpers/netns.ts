import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why a network namespace cannot be made here (no `ip`, no CAP_NET_ADMIN); tests skip on it, and fail on any other error. */
export class NetnsUnavailableError extends Error {
  override name = 'NetnsUnavailableError';
}

/**
 * A network namespace of the test's own, joined to the host namespace by a
 * veth pair on a /30: the host side is `hostIp`, the namespace side `nsIp`.
 * A peer started with `wrap()` sees only the veth (and its own loopback), so
 * it reaches the host at `hostIp` over a real interface: what WebRTC stacks
 * that leave loopback out of their ICE candidates (libnice) need.
 */
export interface VethNamespace {
  readonly name: string;
  readonly hostInterface: string;
  readonly hostIp: string;
  readonly nsIp: string;
  /** `command args…` to run inside the namespace (`ip netns exec <name> …`, which execs the command: its pid is the command's). */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Deletes the namespace and the veth pair. Safe twice. */
  delete(): Promise<void>;
}

const created = new Map<string, { hostInterface: string }>();
let sequence = 0;
let exitHookInstalled = false;

async function ip(args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 });
  return stdout;
}

/** Addresses of the host namespace's interfaces, so a new /30 does not collide with one in use (another test's). */
async function usedIpv4Subnets(): Promise<Set<string>> {
  const out = await ip(['-4', '-o', 'addr', 'show']);
  const used = new Set<string>();
  for (const m of out.matchAll(/inet (10\.213\.(\d+))\.\d+\//g)) used.add(m[1]!);
  return used;
}

function removeNow(name: string, hostInterface: string): void {
  // The last resort on exit: synchronous, errors ignored (the namespace may be gone already).
  for (const args of [['netns', 'delete', name], ['link', 'delete', hostInterface]]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore', timeout: 5000 });
    } catch {
      // already gone
    }
  }
}

/**
 * Creates a network namespace with a veth pair to the host namespace, with
 * addresses in 10.213.<n>.0/30 (a free <n>): host side .1, namespace side .2.
 * Everything it creates is tracked: a failure halfway removes what was made,
 * `delete()` (or `deleteAllNamespaces()`, and as a last resort the process's
 * exit) removes the rest. Throws NetnsUnavailableError where namespaces
 * cannot be created (no `ip` binary, no CAP_NET_ADMIN).
 */
export async function createVethNamespace(): Promise<VethNamespace> {
  const tag = `${process.pid % 100_000}x${sequence++}`;
  const name = `stagecast-test-${tag}`;
  const hostInterface = `scv${tag}h`;
  const nsInterface = `scv${tag}n`;
  try {
    await ip(['netns', 'add', name]);
  } catch (err) {
    throw unavailable(err);
  }
  created.set(name, { hostInterface });
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [n, c] of created) removeNow(n, c.hostInterface);
    });
  }
  const ns = {
    name,
    hostInterface,
    hostIp: '',
    nsIp: '',
    wrap: (command: string, args: string[]) => ({ command: 'ip', args: ['netns', 'exec', name, command, ...args] }),
    delete: () => deleteNamespace(name),
  };
  try {
    const used = await usedIpv4Subnets();
    const start = process.pid % 256;
    let subnet: string | undefined;
    for (let i = 0; i < 256 && !subnet; i++) {
      const candidate = `10.213.${(start + i) % 256}`;
      if (!used.has(candidate)) subnet = candidate;
    }
    if (!subnet) throw new Error('no free 10.213.<n>.0/30 subnet');
    ns.hostIp = `${subnet}.1`;
    ns.nsIp = `${subnet}.2`;
    // The peer is created inside the namespace at once: deleting the namespace deletes the pair.
    await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', name]);
    await ip(['addr', 'add', `${ns.hostIp}/30`, 'dev', hostInterface]);
    await ip(['link', 'set', hostInterface, 'up']);
    await ip(['-n', name, 'addr', 'add', `${ns.nsIp}/30`, 'dev', nsInterface]);
    await ip(['-n', name, 'link', 'set', nsInterface, 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    // IPv4 only inside: no tentative IPv6 link-local addresses for the peer to gather.
    await run('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1'], { timeout: 10_000 }).catch(() => undefined);
    await waitForCarrier(hostInterface);
    return ns;
  } catch (err) {
    await deleteNamespace(name);
    // With CAP_SYS_ADMIN but not CAP_NET_ADMIN the namespace comes, the veth pair does not.
    throw unavailable(err);
  }
}

/** A failure for want of `ip` or of the capability becomes NetnsUnavailableError; any other stays what it is. */
function unavailable(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { stderr?: string };
  if (e.code === 'ENOENT') return new NetnsUnavailableError('the ip command (iproute2) is not installed');
  if (/Operation not permitted|Permission denied/i.test(e.stderr ?? '')) {
    return new NetnsUnavailableError(`cannot create a network namespace and veth pair (needs CAP_NET_ADMIN): ${e.stderr!.trim()}`);
  }
  return err;
}

/** A veth pair is up on both ends at once, but its carrier may come a moment later; there is no event to await: poll with a deadline. */
async function waitForCarrier(hostInterface: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const out = await ip(['-o', 'link', 'show', 'dev', hostInterface]);
    if (/[<,]LOWER_UP[,>]/.test(out)) return;
    if (Date.now() > deadline) throw new Error(`veth ${hostInterface} has no carrier: ${out.trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Deletes a namespace this module created, and its veth pair (gone with the namespace; deleted explicitly if not). */
async function deleteNamespace(name: string): Promise<void> {
  const entry = created.get(name);
  if (!entry) return;
  created.delete(name);
  await ip(['netns', 'delete', name]).catch(() => undefined);
  const links = await ip(['-o', 'link', 'show']).catch(() => '');
  if (links.includes(` ${entry.hostInterface}@`)) await ip(['link', 'delete', entry.hostInterface]).catch(() => undefined);
}

/** Deletes every namespace this process created and has not deleted yet. */
export async function deleteAllNamespaces(): Promise<void> {
  for (const name of [...created.keys()]) await deleteNamespace(name);
}

/** The namespaces this process created and has not deleted yet (for tests of the tests). */
export function liveNamespaces(): string[] {
  return [...created.keys()];
}
