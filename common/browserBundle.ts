import * as esbuild from 'esbuild';

/**
 * Bundles browser entry points in memory (nothing written to disk), minified
 * for current browsers. Returns each entry's JavaScript by its name.
 */
export async function bundleForBrowser(entries: Record<string, string>): Promise<Map<string, string>> {
  const result = await esbuild.build({
    entryPoints: entries,
    bundle: true,
    write: false,
    outdir: '/bundle',
    format: 'esm',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const out = new Map<string, string>();
  for (const name of Object.keys(entries)) {
    const file = result.outputFiles.find((f) => f.path === `/bundle/${name}.js`);
    if (!file) throw new Error(`esbuild produced no bundle for ${name}`);
    out.set(name, file.text);
  }
  return out;
}
