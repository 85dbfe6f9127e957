// The latency controller's decisions (player/client/latencyController.ts), one
// step at a time on the state a player would report; the wiring to hls.js and
// the media element is exercised in Chromium by test/e2e/embed.browser.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { catchUpStep, DEFAULT_CATCH_UP, type PlayerSample } from '../../player/client/latencyController.ts';

/** Live, playing, on a 1 s target, 2 s buffered ahead. (Binary-exact numbers: rates compare exactly.) */
const onTarget: PlayerSample = {
  live: true,
  paused: false,
  seeking: false,
  latency: 1,
  targetLatency: 1,
  liveSyncPosition: 100,
  currentTime: 100,
  playbackRate: 1,
  buffered: { start: 90, end: 102 },
};
const at = (over: Partial<PlayerSample>): PlayerSample => ({ ...onTarget, ...over });

describe('catchUpStep', () => {
  test('on target at rate 1: nothing to do', () => {
    assert.equal(catchUpStep(onTarget), undefined);
  });

  test('behind with buffer ahead: plays faster, by how far behind, capped at maxPlaybackRate', () => {
    assert.deepEqual(catchUpStep(at({ latency: 1.25 })), { playbackRate: 1.25 });
    assert.deepEqual(catchUpStep(at({ latency: 2 })), { playbackRate: DEFAULT_CATCH_UP.maxPlaybackRate });
    assert.deepEqual(catchUpStep(at({ latency: 2 }), { ...DEFAULT_CATCH_UP, maxPlaybackRate: 1.2 }), { playbackRate: 1.2 });
  });

  test('within 50 ms of the target counts as on target', () => {
    assert.equal(catchUpStep(at({ latency: 1.04 })), undefined);
    assert.deepEqual(catchUpStep(at({ latency: 1.04, playbackRate: 1.25 })), { playbackRate: 1 });
  });

  test('back on target after catching up: rate 1 again', () => {
    assert.deepEqual(catchUpStep(at({ playbackRate: 1.5 })), { playbackRate: 1 });
  });

  test('never speeds up into an almost empty buffer (it would stall)', () => {
    assert.equal(catchUpStep(at({ latency: 1.5, buffered: { start: 90, end: 100.2 } })), undefined);
    assert.deepEqual(catchUpStep(at({ latency: 1.5, playbackRate: 1.5, buffered: { start: 90, end: 100.2 } })), { playbackRate: 1 });
    assert.equal(catchUpStep(at({ latency: 1.5, buffered: undefined })), undefined);
  });

  test('a rate within 0.01 of the wanted one is left alone', () => {
    assert.equal(catchUpStep(at({ latency: 1.25, playbackRate: 1.255 })), undefined);
  });

  test('far behind: seeks to the live sync position when it is buffered', () => {
    const far = at({ latency: 3.5, currentTime: 97, liveSyncPosition: 99.9, buffered: { start: 90, end: 100.5 } });
    assert.deepEqual(catchUpStep(far), { seekTo: 99.9 });
  });

  test('far behind but the sync position is not buffered (or too close to its end): catches up by rate instead', () => {
    const notBuffered = at({ latency: 3.5, currentTime: 97, liveSyncPosition: 101, buffered: { start: 90, end: 100.5 } });
    assert.deepEqual(catchUpStep(notBuffered), { playbackRate: 1.5 });
    const atTheEnd = at({ latency: 3.5, currentTime: 97, liveSyncPosition: 100.3, buffered: { start: 90, end: 100.5 } });
    assert.deepEqual(catchUpStep(atTheEnd), { playbackRate: 1.5 });
    const beforeTheRange = at({ latency: 3.5, currentTime: 97, liveSyncPosition: 89, buffered: { start: 90, end: 100.5 } });
    assert.deepEqual(catchUpStep(beforeTheRange), { playbackRate: 1.5 });
  });

  test('leaves a VOD, a paused or seeking player and one without a target alone', () => {
    const behind = { latency: 2 };
    assert.equal(catchUpStep(at({ ...behind, live: false })), undefined);
    assert.equal(catchUpStep(at({ ...behind, paused: true })), undefined);
    assert.equal(catchUpStep(at({ ...behind, seeking: true })), undefined);
    assert.equal(catchUpStep(at({ ...behind, targetLatency: null })), undefined);
    assert.equal(catchUpStep(at({ latency: Number.NaN })), undefined);
  });
});
