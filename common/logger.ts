import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';

/**
 * The structured logger every stage receives. Children carry bindings such as
 * `stage`, `broadcast` and `rendition`, so each line says where it comes from.
 */
export type Logger = PinoLogger;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Keys whose values are secrets, wherever a log call puts them (top level or one
 * object down): tokens, secrets, credentials, authorization headers.
 */
const SECRET_KEYS = [
  'token',
  'secret',
  'authorization',
  'hostToken',
  'adminToken',
  'hostTokenSecret',
  'ingestToken',
  'secretAccessKey',
  'credentials',
  'password',
  'cookie',
];

/** `destination` (a stream pino writes JSON lines to) defaults to stdout; tests capture it. */
export function createLogger(options: { level?: LogLevel; name?: string; destination?: DestinationStream } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { name: options.name ?? 'stagecast' },
    // Secrets never reach logs: tokens and keys are redacted wherever they appear.
    redact: {
      paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'req.headers.authorization', 'headers.authorization', 'req.headers.cookie'],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything; for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
