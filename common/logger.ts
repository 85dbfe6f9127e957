import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

/**
 * The structured logger every stage receives. Children carry bindings such as
 * `stage`, `broadcast` and `rendition`, so each line says where it comes from.
 */
export type Logger = PinoLogger;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(options: { level?: LogLevel; name?: string } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { name: options.name ?? 'stagecast' },
    // Secrets never reach logs: tokens and keys are redacted wherever they appear.
    redact: {
      paths: ['token', '*.token', 'secret', '*.secret', 'authorization', '*.authorization', 'hostToken', '*.hostToken'],
      censor: '[redacted]',
    },
  };
  return pino(opts);
}

/** A logger that drops everything; for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
