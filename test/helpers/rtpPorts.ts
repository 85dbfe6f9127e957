// The UDP port range of this test run: STAGECAST_TEST_RTP_PORTS=min-max, so
// parallel runs on one machine (git worktrees) pick disjoint ranges.

/** The RTP port range of this test run (STAGECAST_TEST_RTP_PORTS), if given. */
export function testRtpPorts(): { min: number; max: number } | undefined {
  const m = /^(\d+)-(\d+)$/.exec(process.env.STAGECAST_TEST_RTP_PORTS ?? '');
  return m ? { min: Number(m[1]), max: Number(m[2]) } : undefined;
}

/** This run's range, or the file's own default when none is given. */
export function rtpPortsOr(min: number, max: number): { min: number; max: number } {
  return testRtpPorts() ?? { min, max };
}
