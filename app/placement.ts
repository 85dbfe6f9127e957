import { createHash } from 'node:crypto';

/** A broadcast node as the SFU knows it: a stable id and the base URL of its HTTP server. */
export interface BroadcastNode {
  readonly id: string;
  readonly url: string;
}

/** Rendezvous weight of (stage, node): the first 8 bytes of SHA-256 over both ids. */
export function rendezvousWeight(stageId: string, nodeId: string): bigint {
  return createHash('sha256').update(stageId).update('\0').update(nodeId).digest().readBigUInt64BE(0);
}

/**
 * Nodes in rendezvous (highest-random-weight) order for a stage: the first is
 * its home, the rest the fallbacks in order. Adding or removing a node moves
 * only the stages whose home it is or becomes (about 1/n of them), and every
 * SFU computes the same order without talking to the others.
 */
export function rankNodes<N extends BroadcastNode>(stageId: string, nodes: readonly N[]): N[] {
  return nodes
    .map((node) => ({ node, w: rendezvousWeight(stageId, node.id) }))
    .sort((a, b) => (a.w === b.w ? a.node.id.localeCompare(b.node.id) : a.w > b.w ? -1 : 1))
    .map((x) => x.node);
}
