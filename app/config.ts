import { z } from 'zod';
import { ingestConfigSchema } from '../ingest/index.ts';

/** The whole process's configuration: one section per stage, validated once at start-up. */
export const appConfigSchema = z.object({
  http: z
    .object({
      /** Address the HTTP server (pages, signalling, API) binds to. */
      host: z.string().min(1).default('0.0.0.0'),
      /** Port of the HTTP server; 0 picks a free one. */
      port: z.number().int().min(0).max(65535).default(8080),
      /** Base URL people reach the server at (for the links printed); defaults to http://localhost:port. */
      publicUrl: z.url().optional(),
    })
    .prefault({}),
  /** Bearer token for the control API; at least 16 characters. */
  adminToken: z.string().min(16, 'adminToken must be at least 16 characters'),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  ingest: ingestConfigSchema,
  /** A stage created at start-up so a host can go live at once; empty for none. */
  initialStage: z.string().regex(/^[A-Za-z0-9_-]{0,64}$/).default('main'),
});

export type AppConfig = z.infer<typeof appConfigSchema>;
export type AppConfigInput = z.input<typeof appConfigSchema>;

/** Turns a zod error into one line per key, naming the key. */
export function describeConfigError(err: z.ZodError): string {
  return err.issues.map((i) => `config ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
}
