/**
 * A WHEP client (draft-ietf-wish-whep) in the browser: one RTCPeerConnection
 * receiving audio and video, the offer POSTed whole (ICE gathered first: the
 * server is ICE-lite and takes no trickle), the session DELETEd on leave.
 */
export interface WhepClientOptions {
  /** The endpoint, e.g. `https://host/whep/<stage>`. */
  endpoint: string;
  /** The viewer token (`Authorization: Bearer`). */
  token: string;
  /** Longest wait for ICE gathering before the offer is sent as it is (ms). */
  gatherTimeoutMs?: number;
}

export class WhepError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WhepError';
  }
}

export class WhepClient {
  readonly pc: RTCPeerConnection;
  readonly stream = new MediaStream();
  #session: string | undefined;
  readonly #opts: WhepClientOptions;

  constructor(opts: WhepClientOptions) {
    this.#opts = opts;
    this.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc.addTransceiver('video', { direction: 'recvonly' });
    this.pc.addTransceiver('audio', { direction: 'recvonly' });
    this.pc.ontrack = (e) => this.stream.addTrack(e.track);
  }

  /** The session URL (Location), once connected. */
  get sessionUrl(): string | undefined {
    return this.#session;
  }

  /** Offers, and applies the answer; rejects with a WhepError carrying the server's status and reason. */
  async connect(): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.#gathered();
    const res = await fetch(this.#opts.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.#opts.token}` },
      body: this.pc.localDescription!.sdp,
    });
    if (res.status !== 201) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new WhepError(res.status, body.error?.code ?? 'error', body.error?.message ?? `the server answered ${res.status}`);
    }
    const location = res.headers.get('location');
    if (location) this.#session = new URL(location, this.#opts.endpoint).href;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  }

  /** Leaves: DELETEs the session (freeing its seat at once) and closes the connection. */
  async close(opts: { keepalive?: boolean } = {}): Promise<void> {
    const url = this.#session;
    this.#session = undefined;
    // DELETE first (the WHEP way to end a session); the connection closes once the server has answered.
    const deleted = url ? fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${this.#opts.token}` }, keepalive: opts.keepalive ?? false }).catch(() => undefined) : undefined;
    if (!opts.keepalive) await deleted;
    this.pc.close();
  }

  #gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      };
      const check = () => {
        if (this.pc.iceGatheringState === 'complete') done();
      };
      const timer = setTimeout(done, this.#opts.gatherTimeoutMs ?? 2000);
      this.pc.addEventListener('icegatheringstatechange', check);
    });
  }
}
