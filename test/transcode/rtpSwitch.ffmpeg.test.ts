import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpPortPool, createLogger, isUdpPortBound, silentLogger, type LogLevel } from '../../common/index.ts';
import { RtpSwitch } from '../../transcode/index.ts';
import { isAlive } from './rtpSource.ts';
import { FrameDecoder, PAYLOAD_TYPE, startColourSender, switchOutputSdp, type Codec, type ColourSender } from './switchMedia.ts';

const range = /^(\d+)-(\d+)$/.exec(process.env.STAGECAST_TEST_RTP_PORTS ?? '');
const pool = new UdpPortPool({ host: '127.0.0.1', min: range ? Number(range[1]) : 26500, max: range ? Number(range[2]) : 26999 });

/** Frames of each colour to see before the next switch (1 s at 30 fps). */
const FRAMES_PER_SHOT = 30;
const SIZES = { red: '320x240', blue: '640x360' } as const;

async function waitForBound(port: number, decoder: FrameDecoder): Promise<void> {
  // FFmpeg gives no event when its RTP socket is bound; poll the port (bounded).
  for (let i = 0; i < 200; i++) {
    if (await isUdpPortBound('127.0.0.1', port)) return;
    if (decoder.exitedEarly) throw new Error(`decoder exited: ${decoder.exitedEarly} ${decoder.errors.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`decoder never bound port ${port}`);
}

for (const codec of ['VP8', 'H264'] as Codec[]) {
  describe(`RtpSwitch feeding a real FFmpeg decoder (${codec})`, () => {
    test('switches red → blue → red at keyframes: the decoded colour follows the selection, sizes change, no decoder error, timestamps monotonic without gaps', async () => {
      const out = await pool.allocate();
      const keyframeRequests: string[] = [];
      const sw = await RtpSwitch.create({
        codec,
        payloadType: PAYLOAD_TYPE[codec],
        target: { address: '127.0.0.1', port: out.rtp },
        bindAddress: '127.0.0.1',
        portPool: pool,
        requestKeyFrame: (id) => keyframeRequests.push(id),
        // TEST_LOG_LEVEL=info shows each switch with its timestamp step (as test/helpers/app.ts does for the app).
        logger: process.env.TEST_LOG_LEVEL ? createLogger({ level: process.env.TEST_LOG_LEVEL as LogLevel }) : silentLogger(),
      });
      const senders: ColourSender[] = [];
      const decoder = new FrameDecoder(switchOutputSdp(codec, out.rtp));
      const sourcePorts: number[] = [];
      try {
        await waitForBound(out.rtp, decoder);
        for (const [i, colour] of (['red', 'blue'] as const).entries()) {
          const addr = await sw.addSource(colour);
          sourcePorts.push(addr.port, addr.rtcpPort!);
          senders.push(startColourSender({ codec, color: colour, size: SIZES[colour], port: addr.port, ssrc: 1000 + i }));
        }

        for (const colour of ['red', 'blue', 'red'] as const) {
          const switched = sw.waitFor('switched');
          sw.select(colour);
          assert.deepEqual(await switched, [colour]);
          await decoder.until(() => decoder.trailing(colour) >= FRAMES_PER_SHOT, 45_000, `${FRAMES_PER_SHOT} ${colour} frames`);
          assert.equal(decoder.exitedEarly, undefined, `decoder stopped: ${decoder.errors.join('\n')}`);
        }
        const stats = sw.stats;
        await decoder.close();

        const runs = decoder.runs();
        const report = `${codec}: runs ${runs.join(' ')}; stats ${JSON.stringify(stats)}; keyframe requests ${keyframeRequests.length}; warnings ${decoder.warnings.length}`;
        console.log(report);
        // Every decoded frame is one of the two colours (no corrupt or half-switched frame), in the selected order.
        assert.deepEqual(runs.map((r) => r.split('×')[0]), ['red', 'blue', 'red'], report);
        assert.deepEqual(decoder.errors, [], 'the decoder reported errors');
        assert.equal(stats.switches, 3);
        assert.deepEqual(keyframeRequests.slice(0, 1), ['red']);
        assert.ok(keyframeRequests.includes('blue'));

        // Timestamps of the decoded frames (one showinfo line per frame, same order as the pixels).
        const infos = decoder.infos;
        // A frame or two may be in the filters when FFmpeg is stopped: shown, not yet written.
        assert.ok(infos.length >= decoder.frames.length && infos.length <= decoder.frames.length + 2, `${infos.length} infos, ${decoder.frames.length} frames`);
        assert.ok(infos.length >= 3 * FRAMES_PER_SHOT, `${infos.length} frames with timestamps`);
        // Monotonic. FFmpeg 5.1 gives the first two H.264 frames of any RTP input pts 0 (seen
        // with a sender feeding it directly, no switch), so strictness starts at frame 2.
        assert.ok(infos[1]!.ptsTime >= infos[0]!.ptsTime);
        let maxGap = 0;
        for (let i = 2; i < infos.length; i++) {
          const step = infos[i]!.ptsTime - infos[i - 1]!.ptsTime;
          assert.ok(step > 0, `timestamp not increasing at frame ${i}: ${infos[i - 1]!.ptsTime} → ${infos[i]!.ptsTime}`);
          maxGap = Math.max(maxGap, step);
        }
        // At each switch (where the colour changes) the step is the wall-clock time between the
        // two sources' frames: under 0.5 s.
        const switchSteps: number[] = [];
        for (let i = 1; i < decoder.frames.length; i++) {
          if (decoder.frames[i]!.colour !== decoder.frames[i - 1]!.colour) switchSteps.push(infos[i]!.ptsTime - infos[i - 1]!.ptsTime);
        }
        const ms = (s: number) => Math.round(s * 1000);
        console.log(`${codec}: ${infos.length} frames; timestamp steps at the switches ${switchSteps.map(ms).join(', ')} ms; largest step anywhere ${ms(maxGap)} ms`);
        assert.equal(switchSteps.length, 2);
        for (const step of switchSteps) assert.ok(step > 0 && step <= 0.5, `timestamp step at a switch: ${step} s`);

        // The decoder re-initialised for each source's resolution.
        const sizes = infos.map((f) => f.size).filter((s, i, all) => i === 0 || s !== all[i - 1]);
        assert.deepEqual(sizes, [SIZES.red, SIZES.blue, SIZES.red]);
        for (const s of senders) assert.equal(isAlive(s.pid), true, 'a sender died');
      } finally {
        await decoder.close();
        await sw.close();
        for (const s of senders) await s.close();
        pool.release(out);
      }
      assert.equal(isAlive(decoder.pid), false);
      for (const s of senders) assert.equal(isAlive(s.pid), false);
      for (const p of [out.rtp, ...sourcePorts]) assert.equal(await isUdpPortBound('127.0.0.1', p), false, `port ${p} still bound`);
    });
  });
}
