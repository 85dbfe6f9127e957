import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** A module of ours bundled as one classic script for a page (`page.addInitScript`). */
export async function browserBundle(entry: URL): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
