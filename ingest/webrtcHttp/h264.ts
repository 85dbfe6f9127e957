/**
 * H.264 profile from an SDP `profile-level-id` (RFC 6184 §8.1), as WebRTC and
 * mediasoup classify it: two offers match when their profiles are the same,
 * whatever the level. Pure.
 */
export type H264Profile = 'constrained-baseline' | 'baseline' | 'main' | 'high' | 'constrained-high' | 'predictive-high-444';

// profile_idc and a pattern over profile_iop, most significant bit first; x = either.
const patterns: [number, string, H264Profile][] = [
  [0x42, 'x1xx0000', 'constrained-baseline'],
  [0x4d, '1xxx0000', 'constrained-baseline'],
  [0x58, '11xx0000', 'constrained-baseline'],
  [0x42, 'x0xx0000', 'baseline'],
  [0x58, '10xx0000', 'baseline'],
  [0x4d, '0x0x0000', 'main'],
  [0x64, '00000000', 'high'],
  [0x64, '00001100', 'constrained-high'],
  [0xf4, '00000000', 'predictive-high-444'],
];

/** The profile of a `profile-level-id` (default 42e01f, as WebRTC assumes), or undefined when it is none we know. */
export function h264Profile(profileLevelId: unknown): H264Profile | undefined {
  const id = profileLevelId === undefined ? '42e01f' : String(profileLevelId);
  if (!/^[0-9a-fA-F]{6}$/.test(id)) return undefined;
  const idc = parseInt(id.slice(0, 2), 16);
  const iop = parseInt(id.slice(2, 4), 16);
  for (const [pidc, pattern, profile] of patterns) {
    if (pidc !== idc) continue;
    let ok = true;
    for (let bit = 0; bit < 8; bit++) {
      const want = pattern[bit];
      const have = (iop >> (7 - bit)) & 1;
      if (want !== 'x' && Number(want) !== have) ok = false;
    }
    if (ok) return profile;
  }
  return undefined;
}
