// An independent, published WHIP client (@eyevinn/whip-web-client, bundled from
// whipClientPage.ts) served on its own origin, as a browser-based encoder would
// be, so the WHIP requests from it are cross-origin; and the test's handle on a
// page of it that publishes the fake camera and microphone.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { bundleForBrowser } from '../../../common/index.ts';

export interface WhipClientPage {
  /** The page's origin, e.g. http://localhost:PORT; open `${origin}/`. */
  readonly origin: string;
  close(): Promise<void>;
}

export async function serveWhipClientPage(): Promise<WhipClientPage> {
  const js = (await bundleForBrowser({ client: new URL('./whipClientPage.ts', import.meta.url).pathname })).get('client')!;
  const server = http.createServer((req, res) => {
    if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'application/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/client.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return {
    origin: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type WhipWindow = { whip: { start(endpoint: string, token: string, preferredVideo?: string): Promise<string>; stop(): Promise<void>; state(): string } };

/** A page of the WHIP client publishing into a stage. */
export interface WhipPublisher {
  readonly page: Page;
  /** The session's resource URL, as the client resolved our Location. */
  readonly resource: string;
  /** Resolves once the client's ICE connection is connected. */
  connected(timeoutMs: number): Promise<void>;
  /** The client ends the session with DELETE on its resource. */
  stop(): Promise<void>;
}

/** Loads the client in `page` (on the client page's origin) and publishes to `endpoint` with `token`. */
export async function publishWhip(page: Page, origin: string, opts: { endpoint: string; token: string; video?: string }): Promise<WhipPublisher> {
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'whip' in window, undefined, { polling: 200 });
  const resource = await page.evaluate(
    ([endpoint, token, preferred]) => (window as unknown as WhipWindow).whip.start(endpoint!, token!, preferred),
    [opts.endpoint, opts.token, opts.video] as const,
  );
  return {
    page,
    resource,
    connected: async (timeoutMs) => {
      await page.waitForFunction(() => (window as unknown as WhipWindow).whip.state() === 'connected', undefined, { timeout: timeoutMs, polling: 200 });
    },
    stop: () => page.evaluate(() => (window as unknown as WhipWindow).whip.stop()),
  };
}
