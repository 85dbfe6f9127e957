// The light transcode configs the end-to-end tests run: small rungs on x264's
// fastest preset keep hosts, the SFU, FFmpeg and viewers within the 2 cores of
// the machines the suite runs on.
import type { AppConfigInput } from '../../../app/config.ts';

/** Two rungs, 360p and 180p: a ladder to switch in, as viewers get it. */
export const TWO_RUNGS = {
  ladder: [
    { name: '360p', height: 360, bitrateKbps: 700 },
    { name: '180p', height: 180, bitrateKbps: 250 },
  ],
  x264Preset: 'ultrafast',
} satisfies AppConfigInput['transcode'];

/**
 * One 360p rung, with a generous start timeout: for tests of what goes into or
 * out of a broadcast (WHIP, embedding), not of FFmpeg's start-up on a loaded machine.
 */
export const ONE_RUNG = {
  ladder: [{ name: '360p', height: 360, bitrateKbps: 700 }],
  x264Preset: 'ultrafast',
  supervision: { startTimeoutMs: 30_000 },
} satisfies AppConfigInput['transcode'];
