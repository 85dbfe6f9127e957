// The SDP FFmpeg reads, against golden text written by the writer of commit
// 1aee291 (ingest/sdp.ts, transcode/sdp.ts switchedProgramSdp) for the cases
// of sdpCases.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildFfmpegSdp } from '../../ingest/index.ts';
import { switchedProgramSdp } from '../../transcode/index.ts';
import { sessionCases, switchedCases } from './sdpCases.ts';

const golden = (name: string) => readFileSync(new URL(`./golden/sdp/${name}.sdp`, import.meta.url), 'utf8');

for (const [name, c] of Object.entries(sessionCases)) {
  test(`SDP of one RTP output, ${name}: as golden/sdp/${name}.sdp`, () => {
    assert.equal(buildFfmpegSdp(c), golden(name));
  });
}

for (const [name, c] of Object.entries(switchedCases)) {
  test(`SDP of the switched speaker program, ${name}: as golden/sdp/${name}.sdp`, () => {
    const sdp = switchedProgramSdp({
      videos: c.videos.map((v) => ({ source: buildFfmpegSdp(v.source), port: v.port, ssrc: v.ssrc })),
      ...(c.audio ? { audio: buildFfmpegSdp(c.audio) } : {}),
    });
    assert.equal(sdp, golden(name));
  });
}
