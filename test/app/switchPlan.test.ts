import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeProgram, speakerSources, type CompositionHost, type ProgramSpec } from '../../app/composition.ts';
import {
  copiesLayers,
  planSwitch,
  programLayers,
  singleVideoTrack,
  switchCodec,
  switchLayers,
  switchesInPlace,
  layersKey,
  type OutputCodec,
  type SwitchContext,
} from '../../app/switchPlan.ts';
import { ladderRungs, parseTranscodeConfig, simulcastRungs, type TrackLayout } from '../../transcode/index.ts';

const config = parseTranscodeConfig({});
const ladder: TrackLayout = { kind: 'ladder', rungs: ladderRungs(config) };
const single: TrackLayout = { kind: 'single', rung: ladderRungs(config)[0]! };
const simulcast = (heights: number[]): TrackLayout => ({ kind: 'simulcast', rungs: simulcastRungs(config, heights) });

/** Producers as the stage lists them: `<host>v` video (H.264 with three simulcast layers unless told), `<host>a` audio. */
const producer = (host: string, opts: { mimeType?: string; layers?: number[] | null } = {}) => ({
  id: `${host}v`,
  mimeType: opts.mimeType ?? 'video/H264',
  ...(opts.layers === null ? {} : { layers: (opts.layers ?? [180, 360, 720]).map((height) => ({ height })) }),
});
const hosts = (...ids: string[]): CompositionHost[] => ids.map((id) => ({ id, video: { producerId: `${id}v`, paused: false }, audio: { producerId: `${id}a`, paused: false } }));
const speakerOf = (ids: string[], speaker: string): ProgramSpec => composeProgram({ hosts: hosts(...ids), mode: 'speaker', speaker });
const ctx = (over: Partial<SwitchContext> = {}): SwitchContext => ({ producers: [producer('h1'), producer('h2')], mode: 'ladder', layout: undefined, ...over });

const vp8: OutputCodec = { mimeType: 'video/VP8', payloadType: 101, parameters: {} };
const h264: OutputCodec = { mimeType: 'video/H264', payloadType: 107, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } };
const codecs = (table: Record<string, OutputCodec | undefined>) => (producerId: string) => table[producerId];
const sources = (...ids: string[]) => ids.map((id) => ({ hostId: id, producerId: `${id}v` }));

test('switch codec: every host video the same VP8 or H.264 (parameters in any order), from an in-process feed', () => {
  assert.deepEqual(switchCodec(undefined, sources('h1')), { reason: 'the stage feed is remote' });
  assert.deepEqual(switchCodec(codecs({ h1v: vp8 }), sources('h1', 'h2')), { reason: 'a video producer is gone' });
  assert.deepEqual(switchCodec(codecs({ h1v: vp8, h2v: { ...vp8, payloadType: 96 } }), sources('h1', 'h2')), {
    reason: 'the host videos differ in codec: video/VP8/101, video/VP8/96',
  });
  assert.deepEqual(switchCodec(codecs({ h1v: { mimeType: 'video/VP9', payloadType: 98, parameters: {} } }), sources('h1')), { reason: 'the switch does not handle video/VP9' });

  const reordered = { ...h264, parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1 } };
  const choice = switchCodec(codecs({ h1v: h264, h2v: reordered }), sources('h1', 'h2'));
  assert.ok(!('reason' in choice));
  assert.equal(choice.codec, 'H264');
  assert.equal(choice.payloadType, 107);
  const other = switchCodec(codecs({ h1v: vp8 }), sources('h1'));
  assert.ok(!('reason' in other) && other.codec === 'VP8' && other.key !== choice.key);
});

test('one copied video track: the running transcoder decides; before it, passthrough always, auto for one H.264 host', () => {
  const one = speakerOf(['h1', 'h2'], 'h1');
  const grid = composeProgram({ hosts: hosts('h1', 'h2'), mode: 'grid' });
  assert.equal(singleVideoTrack(grid, ctx({ layout: single })), true);
  assert.equal(singleVideoTrack(one, ctx({ mode: 'passthrough', layout: ladder })), false);
  assert.equal(singleVideoTrack(grid, ctx({ mode: 'passthrough' })), true);
  assert.equal(singleVideoTrack(one, ctx({ mode: 'ladder' })), false);
  assert.equal(singleVideoTrack(one, ctx({ mode: 'auto' })), true);
  assert.equal(singleVideoTrack(grid, ctx({ mode: 'auto' })), false);
  assert.equal(singleVideoTrack(one, ctx({ mode: 'auto', producers: [producer('h1', { mimeType: 'video/VP8' })] })), false);
});

test('program layers: one H.264 simulcast host full frame, highest first, as many as a running simulcast layout has renditions', () => {
  const one = speakerOf(['h1', 'h2'], 'h1');
  const highestFirst = [
    { spatialLayer: 2, height: 720 },
    { spatialLayer: 1, height: 360 },
    { spatialLayer: 0, height: 180 },
  ];
  assert.equal(copiesLayers(one, ctx({ mode: 'simulcast' })), true);
  assert.deepEqual(programLayers(one, ctx({ mode: 'simulcast' })), highestFirst);
  assert.deepEqual(programLayers(one, ctx({ mode: 'auto' })), highestFirst);
  assert.deepEqual(programLayers(one, ctx({ layout: simulcast([720, 360, 180]) })), highestFirst);
  assert.equal(programLayers(one, ctx({ layout: simulcast([720, 360]) })), undefined, 'two renditions, three layers');
  assert.equal(programLayers(one, ctx({ mode: 'ladder' })), undefined, 'an encoded ladder takes the best layer');
  assert.equal(programLayers(composeProgram({ hosts: hosts('h1', 'h2'), mode: 'grid' }), ctx({ mode: 'simulcast' })), undefined, 'a grid is not full frame');
  assert.equal(programLayers(one, ctx({ mode: 'simulcast', producers: [producer('h1', { layers: null })] })), undefined, 'no simulcast');
  assert.equal(programLayers(one, ctx({ mode: 'simulcast', producers: [producer('h1', { mimeType: 'video/VP8' })] })), undefined, 'not H.264');
});

test('switch lanes: one for an encoded program; one per copied layer when every host sends the same layers; else why not', () => {
  const spec = speakerOf(['h1', 'h2'], 'h2');
  assert.equal(switchLayers(spec, sources('h1', 'h2'), ctx({ layout: ladder })), undefined);
  assert.deepEqual(switchLayers(spec, sources('h1', 'h2'), ctx({ mode: 'simulcast' }))?.length, 3);
  const differing = ctx({ mode: 'simulcast', producers: [producer('h1', { layers: [180, 360] }), producer('h2')] });
  assert.match(String(switchLayers(spec, sources('h1', 'h2'), differing)), /^the host videos differ in simulcast layers/);
  // The layout copies layers, but the speaker's video is not them (VP8): no switch can keep the copy.
  const vp8Speaker = ctx({ layout: simulcast([720, 360, 180]), producers: [producer('h1'), producer('h2', { mimeType: 'video/VP8' })] });
  assert.equal(switchLayers(spec, sources('h1', 'h2'), vp8Speaker), 'the speaker video is not the copied layers');
});

test('plan: no switch outside the speaker layout, on the slate or with a copied single video; else a codec and lanes, or the reason', () => {
  const spec = speakerOf(['h1', 'h2'], 'h1');
  const src = sources('h1', 'h2');
  const same = codecs({ h1v: h264, h2v: h264 });
  assert.equal(planSwitch(composeProgram({ hosts: hosts('h1', 'h2'), mode: 'grid' }), src, ctx(), same), undefined);
  assert.equal(planSwitch(composeProgram({ hosts: [], mode: 'speaker' }), [], ctx(), same), undefined);
  assert.equal(planSwitch(spec, src, ctx({ mode: 'passthrough' }), same), undefined);

  const encoded = planSwitch(spec, src, ctx(), same);
  assert.ok(encoded && !('reason' in encoded));
  assert.equal(encoded.codec.codec, 'H264');
  assert.equal(encoded.layers, undefined);

  const layered = planSwitch(spec, src, ctx({ mode: 'simulcast' }), same);
  assert.ok(layered && !('reason' in layered));
  assert.deepEqual(layered.layers?.map((l) => l.height), [720, 360, 180]);

  assert.deepEqual(planSwitch(spec, src, ctx(), undefined), { reason: 'the stage feed is remote' });
  const differing = ctx({ mode: 'simulcast', producers: [producer('h1'), producer('h2', { layers: [360, 720] })] });
  assert.match((planSwitch(spec, src, differing, same) as { reason: string }).reason, /simulcast layers/);
});

test('in place: a new speaker or host video on the same switch; a changed mix, layout, codec or lanes, or a closed output is a program change', () => {
  const on = speakerOf(['h1', 'h2'], 'h1');
  const codec = switchCodec(codecs({ h1v: vp8, h2v: vp8, h3v: vp8 }), sources('h1', 'h2', 'h3'));
  assert.ok(!('reason' in codec));
  const running = { spec: on, codecKey: codec.key, layersKey: layersKey(undefined), outputClosed: false };
  const next = (spec: ProgramSpec, over: Partial<Parameters<typeof switchesInPlace>[1]> = {}) => switchesInPlace(running, { spec, codec, layers: undefined, ...over });

  assert.equal(next(speakerOf(['h1', 'h2'], 'h2')), true, 'the speaker changes');
  // A host that joins with video only: a new source, the same audio mix.
  const videoOnly: CompositionHost[] = [...hosts('h1', 'h2'), { id: 'h3', video: { producerId: 'h3v', paused: false } }];
  assert.deepEqual(speakerSources(videoOnly).length, 3);
  assert.equal(next(composeProgram({ hosts: videoOnly, mode: 'speaker', speaker: 'h3' })), true, 'a video-only host joins');

  assert.equal(next(speakerOf(['h1', 'h2', 'h3'], 'h1')), false, 'a host with audio joins: the mix changes');
  const muted = hosts('h1', 'h2').map((h) => (h.id === 'h2' ? { ...h, audio: { producerId: 'h2a', paused: true } } : h));
  assert.equal(next(composeProgram({ hosts: muted, mode: 'speaker', speaker: 'h1' })), false, 'a host mutes');
  assert.equal(next(composeProgram({ hosts: hosts('h1', 'h2'), mode: 'grid' })), false, 'the grid');
  const noVideo = hosts('h1', 'h2').map((h) => ({ id: h.id, audio: h.audio! }));
  assert.equal(next(composeProgram({ hosts: noVideo, mode: 'speaker' })), false, 'the slate');
  assert.equal(switchesInPlace({ ...running, outputClosed: true }, { spec: speakerOf(['h1', 'h2'], 'h2'), codec, layers: undefined }), false, 'the output closed');
  assert.equal(next(speakerOf(['h1', 'h2'], 'h2'), { codec: { reason: 'a video producer is gone' } }), false, 'no codec');
  assert.equal(next(speakerOf(['h1', 'h2'], 'h2'), { codec: { ...codec, key: 'other' } }), false, 'another codec');
  assert.equal(next(speakerOf(['h1', 'h2'], 'h2'), { layers: [{ spatialLayer: 0, height: 180 }] }), false, 'other lanes');
  assert.equal(next(speakerOf(['h1', 'h2'], 'h2'), { layers: 'the host videos differ' }), false, 'no lanes');
});
