// Who is to blame when a WHIP/WHEP session cannot be made: what mediasoup refuses
// of the offer's own parameters is the offer's (422); a TypeError from our side
// (the answer writer, the transport) is ours and stays an error of ours (500).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../common/index.ts';
import { asOfferError, withOfferParameters } from '../../ingest/webrtcHttp/sessions.ts';

const unsupported = Object.assign(new Error('unsupported codec'), { name: 'UnsupportedError' });

test('a TypeError outside the offer\'s parameters is ours: left as it is, not blamed on the offer', () => {
  const ours = new TypeError('the transport has no DTLS fingerprint');
  assert.equal(asOfferError(ours, false), ours);
  const refused = asOfferError(unsupported, false);
  assert.ok(refused instanceof InputError);
  assert.deepEqual([refused.code, refused.status], ['unsupported-offer', 422]);
});

test('withOfferParameters: what mediasoup refuses of the offer\'s parameters, TypeError included, is a 422 naming it; a result passes through', async () => {
  await assert.rejects(
    withOfferParameters(() => Promise.reject(new TypeError('invalid rtpParameters.encodings'))),
    (err: unknown) => err instanceof InputError && err.status === 422 && err.code === 'unsupported-offer' && /invalid rtpParameters\.encodings/.test(err.message),
  );
  await assert.rejects(withOfferParameters(() => Promise.reject(unsupported)), { name: 'InputError', status: 422 });
  const other = new RangeError('not a parameter fault');
  await assert.rejects(withOfferParameters(() => Promise.reject(other)), (err) => err === other);
  assert.equal(await withOfferParameters(async () => 42), 42);
});
