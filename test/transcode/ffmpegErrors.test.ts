import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTPUT_FAILED, startError, type FailedStart } from '../../transcode/ffmpegErrors.ts';

const exited: FailedStart = { outcome: 'exited', code: 1, signal: null, running: false, ports: [40000, 40002], startTimeoutMs: 10_000 };

describe('transcode start errors: who is to blame, from the stderr tail', () => {
  const cases: { name: string; start: FailedStart; lines: string[]; error: [string, string, RegExp] }[] = [
    {
      name: 'no output in time: start-timeout naming the RTP ports',
      start: { ...exited, outcome: 'timeout' },
      lines: ['[info] Input #0, sdp, from pipe:0'],
      error: ['DependencyError', 'start-timeout', /^FFmpeg produced no output within 10000 ms \(is RTP arriving on ports 40000, 40002\?\): Input #0, sdp, from pipe:0$/],
    },
    {
      name: 'no output and no RTP (the slate): (none)',
      start: { ...exited, outcome: 'timeout', ports: [] },
      lines: [],
      error: ['DependencyError', 'start-timeout', /^FFmpeg produced no output within 10000 ms \(is RTP arriving on ports \(none\)\?\)$/],
    },
    {
      name: 'a taken port: rtp-port-in-use',
      start: exited,
      lines: ['[error] [udp @ 0x1] bind failed: Address already in use'],
      error: ['DependencyError', 'rtp-port-in-use', /a port of the SDP is taken: \[udp @ 0x1\] bind failed: Address already in use/],
    },
    {
      name: 'the push refused: packager-unreachable',
      start: exited,
      lines: ['[error] [tcp @ 0x2] Connection to tcp://127.0.0.1:1 failed: Connection refused', '[fatal] Error opening output http://127.0.0.1:1/x'],
      error: ['DependencyError', 'packager-unreachable', /^packager refused FFmpeg's CMAF push: /],
    },
    {
      name: 'an SDP FFmpeg cannot read, before any output: InputError bad-sdp',
      start: exited,
      lines: ['[error] pipe:0: Invalid data found when processing input'],
      error: ['InputError', 'bad-sdp', /^FFmpeg rejected the SDP or its RTP: pipe:0: Invalid data found when processing input$/],
    },
    {
      name: 'the same after output advanced is no SDP fault: ffmpeg-failed',
      start: { ...exited, running: true },
      lines: ['[error] pipe:0: Invalid data found when processing input'],
      error: ['DependencyError', 'ffmpeg-failed', /^FFmpeg exited \(code 1\) before producing output: /],
    },
    {
      name: 'killed: ffmpeg-failed with the signal',
      start: { ...exited, code: null, signal: 'SIGKILL' },
      lines: ['[info] Press [q] to stop'],
      error: ['DependencyError', 'ffmpeg-failed', /^FFmpeg exited \(SIGKILL\) before producing output: Press \[q\] to stop$/],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const err = startError(c.start, c.lines);
      const [name, code, message] = c.error;
      assert.equal(err.name, name);
      assert.equal((err as Error & { code?: string }).code, code);
      assert.match(err.message, message);
      assert.deepEqual(err.stderr, c.lines);
    });
  }

  test('a failed push while FFmpeg runs on is told apart from other stderr', () => {
    for (const line of ['[error] av_interleaved_write_frame(): Broken pipe', '[error] Error muxing a packet', '[error] Error writing trailer of http://x: Connection reset by peer']) {
      assert.match(line, OUTPUT_FAILED);
    }
    for (const line of ['frame= 10 fps=0.0 size=N/A time=00:00:00.33', '[warning] RTP: missed 3 packets']) assert.doesNotMatch(line, OUTPUT_FAILED);
  });
});
