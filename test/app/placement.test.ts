import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rankNodes, rendezvousWeight } from '../../app/placement.ts';
import { appConfigSchema, describeConfigError } from '../../app/config.ts';

const nodes = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `broadcast-${i}`, url: `http://broadcast-${i}:8080` }));
const stages = Array.from({ length: 4000 }, (_, i) => `stage-${i}`);

test('rendezvous placement is deterministic and independent of the order nodes are listed in', () => {
  const a = nodes(5);
  const b = [...a].reverse();
  for (const s of stages.slice(0, 200)) assert.deepEqual(rankNodes(s, a).map((n) => n.id), rankNodes(s, b).map((n) => n.id));
  assert.equal(rendezvousWeight('x', 'y'), rendezvousWeight('x', 'y'));
  assert.notEqual(rendezvousWeight('x', 'y'), rendezvousWeight('y', 'x'));
});

test('stages spread evenly over nodes (each within 20 % of its share)', () => {
  const count = new Map<string, number>();
  for (const s of stages) {
    const home = rankNodes(s, nodes(4))[0]!.id;
    count.set(home, (count.get(home) ?? 0) + 1);
  }
  for (const [id, c] of count) assert.ok(Math.abs(c - 1000) < 200, `${id}: ${c} of 4000`);
});

test('adding a node moves only the stages it becomes home of; removing one moves only its own', () => {
  const four = nodes(4);
  const five = nodes(5);
  let moved = 0;
  for (const s of stages) {
    const before = rankNodes(s, four)[0]!.id;
    const after = rankNodes(s, five)[0]!.id;
    if (before !== after) {
      moved++;
      assert.equal(after, 'broadcast-4', 'a stage only moves to the new node');
    }
    // Without its home, a stage goes to its second choice: the fallback order is the ranking.
    const withoutHome = four.filter((n) => n.id !== before);
    assert.equal(rankNodes(s, withoutHome)[0]!.id, rankNodes(s, four)[1]!.id);
  }
  assert.ok(moved > 600 && moved < 1000, `about 1/5 of 4000 stages move: ${moved}`);
});

test('role config: sfu needs broadcast nodes and the internal token, broadcast needs a node id; errors name the key', () => {
  const base = { adminToken: 'a'.repeat(20), ingest: { hostTokenSecret: 'h'.repeat(20) } };
  const errors = (input: object) => {
    const r = appConfigSchema.safeParse({ ...base, ...input });
    return r.success ? '' : describeConfigError(r.error);
  };
  assert.equal(errors({}), '', 'role all needs nothing new');
  assert.match(errors({ role: 'sfu', internalToken: 'i'.repeat(20) }), /config broadcastNodes: role sfu needs at least one broadcast node/);
  assert.match(errors({ role: 'sfu', broadcastNodes: 'a=http://a:8080' }), /config internalToken: roles sfu and broadcast need internalToken/);
  assert.match(errors({ role: 'broadcast', internalToken: 'i'.repeat(20) }), /config nodeId: role broadcast needs nodeId/);
  assert.match(errors({ role: 'broadcast', internalToken: 'short', nodeId: 'n-0' }), /config internalToken: internalToken must be at least 16/);
  assert.match(errors({ role: 'broadcast', internalToken: 'i'.repeat(20), nodeId: 'Bad_Id' }), /config nodeId: node ids are DNS labels/);
  assert.match(errors({ role: 'sfu', internalToken: 'i'.repeat(20), broadcastNodes: 'a=ftp://x' }), /config broadcastNodes\.0\.url: each node needs id=http/);
  assert.match(errors({ role: 'sfu', internalToken: 'i'.repeat(20), broadcastNodes: 'a=http://x:1,a=http://y:1' }), /config broadcastNodes: node ids must be unique/);
  const ok = appConfigSchema.parse({ ...base, role: 'sfu', internalToken: 'i'.repeat(20), broadcastNodes: ' a=http://10.0.0.1:8080 , b=https://b.example ' });
  assert.deepEqual(ok.broadcastNodes, [
    { id: 'a', url: 'http://10.0.0.1:8080' },
    { id: 'b', url: 'https://b.example' },
  ]);
});
