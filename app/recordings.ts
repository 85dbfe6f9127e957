import { z } from 'zod';
import { BROADCAST_ID_PATTERN, STAGE_ID_PATTERN, errorMessage, type Logger } from '../common/index.ts';
import type { ObjectStore, Publisher, TimelineEvent } from '../packager/index.ts';

/** A finished broadcast whose VOD lives in the store. */
export interface Recording {
  id: string;
  /** The stage it was a broadcast of (absent in entries from before broadcasts had their own ids: the id is the stage's). */
  stageId?: string | undefined;
  startedAt?: string | undefined;
  endedAt: string;
  renditions: { trackId: string; kind: string; height?: number | undefined }[];
  /** Speaker turns, hosts joining and leaving, layouts (packager/timeline.ts), in time order. */
  timeline?: TimelineEvent[] | undefined;
}

const recordingsSchema = z.object({
  version: z.literal(1),
  recordings: z.array(
    z.object({
      id: z.string().regex(BROADCAST_ID_PATTERN),
      stageId: z.string().regex(STAGE_ID_PATTERN).optional(),
      startedAt: z.string().optional(),
      endedAt: z.string(),
      renditions: z.array(z.object({ trackId: z.string(), kind: z.string(), height: z.number().optional() })),
      timeline: z
        .array(z.object({ id: z.string(), kind: z.enum(['speaker', 'host', 'layout']), at: z.number(), attributes: z.record(z.string(), z.string()) }))
        .optional(),
    }),
  ),
});

/**
 * The store's index of finished broadcasts, so a restarted process (or another
 * node reading the same store) knows which VODs it serves. One JSON object at
 * `_stagecast/recordings.json` (no broadcast writes a top-level `recordings.json`,
 * and the origin serves only manifests and media, so it is never public).
 * Written through the publisher like a manifest (coalesced, newest wins, after
 * the final playlists queued before it). Single writer: several broadcast
 * nodes sharing one store would need a per-broadcast record instead.
 */
export class Recordings {
  static readonly KEY = '_stagecast/recordings.json';
  readonly #store: ObjectStore;
  readonly #publisher: Publisher | undefined;
  readonly #log: Logger;
  readonly #byId = new Map<string, Recording>();
  #loaded = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(deps: { store: ObjectStore; publisher: Publisher | undefined; logger: Logger }) {
    this.#store = deps.store;
    this.#publisher = deps.publisher;
    this.#log = deps.logger.child({ component: 'recordings' });
  }

  /**
   * Reads the index once at start-up. With the store unreachable the process
   * starts anyway and keeps trying in the background; until the index is read,
   * it is not written (a write would drop the recordings it does not know yet).
   */
  async load(retryMs = 5_000): Promise<void> {
    try {
      const obj = await this.#store.get(Recordings.KEY);
      if (obj) {
        const parsed = recordingsSchema.parse(JSON.parse(obj.body.toString('utf8')));
        for (const r of parsed.recordings) if (!this.#byId.has(r.id)) this.#byId.set(r.id, r);
      }
      this.#loaded = true;
      this.#log.info({ recordings: this.#byId.size }, 'recordings index read');
      if (this.#byId.size > 0) this.#write();
    } catch (err) {
      this.#log.error({ err: errorMessage(err), retryMs }, 'reading the recordings index failed; retrying');
      this.#retryTimer = setTimeout(() => void this.load(retryMs), retryMs);
      this.#retryTimer.unref();
    }
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  list(): Recording[] {
    return [...this.#byId.values()].sort((a, b) => a.endedAt.localeCompare(b.endedAt));
  }

  get(id: string): Recording | undefined {
    return this.#byId.get(id);
  }

  /** The stage's recordings, oldest first. */
  ofStage(stageId: string): Recording[] {
    return this.list().filter((r) => stageOf(r) === stageId);
  }

  /** The stage's most recent recording (the one its stable link offers between broadcasts). */
  latestOf(stageId: string): Recording | undefined {
    return this.ofStage(stageId).at(-1);
  }

  add(recording: Recording): void {
    this.#byId.set(recording.id, recording);
    this.#log.info({ broadcast: recording.id }, 'recording added');
    this.#write();
  }

  close(): void {
    clearTimeout(this.#retryTimer);
  }

  #write(): void {
    if (!this.#loaded || !this.#publisher) return;
    this.#publisher.enqueueManifest(Recordings.KEY, () => Buffer.from(JSON.stringify({ version: 1, recordings: this.list() }, null, 1)), {
      contentType: 'application/json',
      cacheControl: 'no-cache',
    });
  }
}

/** The stage of a recording (an entry from before per-broadcast ids is named after its stage). */
export function stageOf(r: Recording): string {
  return r.stageId ?? r.id;
}
