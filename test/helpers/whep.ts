import type { Page } from 'playwright-core';

/** POSTs a (syntactically fine) WHEP offer made by the page's own RTCPeerConnection with this bearer token. */
export async function postWhepOffer(page: Page, url: string, token: string): Promise<{ status: number; auth: string | null; body: string }> {
  return page.evaluate(
    async ({ url, token }) => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp });
      pc.close();
      return { status: res.status, auth: res.headers.get('www-authenticate'), body: await res.text() };
    },
    { url, token },
  );
}
