import assert from 'node:assert/strict';
import { Parser } from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';

/** Reads a playlist back with m3u8-parser (independent of our serializer). */
export function readM3u8(text: string): Record<string, unknown> & { segments: Record<string, unknown>[] } {
  const p = new Parser();
  const warnings: string[] = [];
  p.on('warn', (w: { message: string }) => warnings.push(w.message));
  p.push(text);
  p.end();
  assert.deepEqual(warnings, [], `m3u8-parser warnings:\n${warnings.join('\n')}\n${text}`);
  return p.manifest;
}

/** Reads an MPD back with mpd-parser. */
export function readMpd(text: string, url = 'http://127.0.0.1/live/b/manifest.mpd'): Record<string, unknown> & { playlists: unknown[]; mediaGroups: Record<string, unknown> } {
  return parseMpd(text, { manifestUri: url, NOW: Date.now(), clientOffset: 0 });
}
