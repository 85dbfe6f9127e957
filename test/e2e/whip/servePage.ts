// Serves clientPage.ts (the published WHIP client, bundled) on its own origin, as a
// browser-based encoder would be, so the WHIP requests from it are cross-origin.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleForBrowser } from '../../../common/index.ts';

export interface WhipClientPage {
  /** The page's origin, e.g. http://localhost:PORT; open `${origin}/`. */
  readonly origin: string;
  close(): Promise<void>;
}

export async function serveWhipClientPage(): Promise<WhipClientPage> {
  const js = (await bundleForBrowser({ client: new URL('./clientPage.ts', import.meta.url).pathname })).get('client')!;
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
