import { randomUUID } from 'node:crypto';
import { InputError, InvalidStateError, STAGE_ID_PATTERN, TypedEmitter, looksLikeBroadcastId, type Logger } from '../common/index.ts';
import { stageMediaCodecs } from './codecs.ts';
import { ingestConfigSchema, type IngestConfig, type IngestConfigInput } from './config.ts';
import { signHostToken, verifyHostToken, type HostRole, type HostTokenClaims } from './hostToken.ts';
import { Stage } from './stage.ts';
import { WorkerPool } from './workerPool.ts';

export interface SfuEvents {
  stagecreate: [stage: Stage];
  stageclose: [stage: Stage];
}

/**
 * The ingest stage: a pool of mediasoup workers and the stages running on them.
 * Stages are created and closed here; hosts join them with signed host tokens.
 */
export class Sfu extends TypedEmitter<SfuEvents> {
  readonly config: IngestConfig;
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #stages = new Map<string, Stage>();
  #closed = false;

  private constructor(config: IngestConfig, pool: WorkerPool, log: Logger) {
    super();
    this.config = config;
    this.#pool = pool;
    this.#log = log;
    this.onListenerError((event, err) => log.error({ err, event }, 'Sfu listener threw'));
  }

  /** Validates the config and starts the workers. */
  static async create(config: IngestConfigInput, logger: Logger): Promise<Sfu> {
    const parsed = ingestConfigSchema.parse(config);
    const log = logger.child({ role: 'ingest' });
    const pool = await WorkerPool.create({ numWorkers: parsed.numWorkers, logLevel: parsed.workerLogLevel }, log);
    return new Sfu(parsed, pool, log);
  }

  get workers(): WorkerPool {
    return this.#pool;
  }

  get stages(): Stage[] {
    return [...this.#stages.values()];
  }

  getStage(id: string): Stage | undefined {
    return this.#stages.get(id);
  }

  /** Creates a stage (one Router on the least loaded worker). */
  async createStage(id: string = randomUUID()): Promise<Stage> {
    if (this.#closed) throw new InvalidStateError('SFU is closed');
    if (!STAGE_ID_PATTERN.test(id)) throw new InputError('invalid-stage-id', 'stage id must be 1-64 of [A-Za-z0-9_-]');
    // A stage's broadcasts are `<stage>-<UTC start>`: a stage named like one would make links ambiguous.
    if (looksLikeBroadcastId(id)) throw new InputError('invalid-stage-id', 'a stage id may not end in -YYYYMMDDTHHMMSSZ (the form of broadcast ids)');
    if (this.#stages.has(id)) throw new InputError('stage-exists', `stage ${id} already exists`, 409);
    const { worker, release } = this.#pool.acquire();
    let router;
    try {
      router = await worker.createRouter({ mediaCodecs: stageMediaCodecs });
    } catch (err) {
      release();
      throw err;
    }
    if (this.#closed || this.#stages.has(id)) {
      router.close();
      release();
      throw this.#closed ? new InvalidStateError('SFU is closed') : new InputError('stage-exists', `stage ${id} already exists`, 409);
    }
    const stage = new Stage(id, {
      router,
      config: this.config,
      logger: this.#log,
      createRouter: (mediaCodecs) => worker.createRouter({ mediaCodecs }),
      onClosed: (s) => {
        release();
        this.#stages.delete(s.id);
        this.emit('stageclose', s);
      },
    });
    this.#stages.set(id, stage);
    this.#log.info({ stage: id, workerPid: worker.pid }, 'stage created');
    this.emit('stagecreate', stage);
    return stage;
  }

  closeStage(id: string): void {
    const stage = this.#stages.get(id);
    if (!stage) throw new InputError('unknown-stage', `no stage ${id}`, 404);
    stage.close('closed');
  }

  /** Issues a host token for a stage (the stage need not exist yet). */
  issueHostToken(stageId: string, opts: { role?: HostRole; name?: string; ttlSeconds?: number; nowSeconds?: number } = {}): string {
    const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
    return signHostToken(
      { stageId, role: opts.role ?? 'host', exp: now + (opts.ttlSeconds ?? 12 * 3600), ...(opts.name ? { name: opts.name } : {}) },
      this.config.hostTokenSecret,
    );
  }

  /** Checks a host token for a stage; throws a 401/403/404 InputError otherwise. */
  authorize(stageId: string, token: unknown): { stage: Stage; claims: HostTokenClaims } {
    const claims = verifyHostToken(token, this.config.hostTokenSecret, { stageId, nowSeconds: Math.floor(Date.now() / 1000) });
    const stage = this.#stages.get(stageId);
    if (!stage) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    return { stage, claims };
  }

  /** Closes every stage and worker; resolves once the worker processes have exited. Safe twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#stages.values()]) s.close('shutdown');
    await this.#pool.close();
    this.#log.info('SFU closed');
  }
}
