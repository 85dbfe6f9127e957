import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/index.ts';
import { Sfu } from '../../ingest/index.ts';

const config = { numWorkers: 2, listenIp: '127.0.0.1', hostTokenSecret: 'test-host-token-secret-0123456789' };

test('config is validated once, naming the bad key', async () => {
  await assert.rejects(Sfu.create({ ...config, hostTokenSecret: 'short' }, silentLogger()), /hostTokenSecret/);
  await assert.rejects(Sfu.create({ ...config, rtcPorts: { min: 5000, max: 4000 } }, silentLogger()), /max must be greater/);
  await assert.rejects(Sfu.create({ ...config, listenIp: '0.0.0.0' }, silentLogger()), /announcedAddress/);
});

test('stages spread over workers; ids are validated and unique; closing cascades', async () => {
  const sfu = await Sfu.create(config, silentLogger());
  try {
    assert.equal(sfu.workers.size, 2);
    const a = await sfu.createStage('a');
    await sfu.createStage('b');
    await assert.rejects(sfu.createStage('a'), /already exists/);
    await assert.rejects(sfu.createStage('../etc'), /stage id/);
    const host = a.addHost('host');
    const transport = await host.createTransport();
    assert.ok(transport.id);
    const closed = a.waitFor('close');
    sfu.closeStage('a');
    assert.deepEqual(await closed, ['closed']);
    assert.equal(host.closed, true);
    assert.equal(sfu.getStage('a'), undefined);
    assert.throws(() => sfu.closeStage('a'), /no stage a/);
    assert.throws(() => a.addHost('host'), /closed/);
  } finally {
    sfu.close();
  }
});

test('a stage refuses hosts beyond its limit', async () => {
  const sfu = await Sfu.create({ ...config, numWorkers: 1, maxHostsPerStage: 2 }, silentLogger());
  try {
    const s = await sfu.createStage('full');
    s.addHost('host');
    s.addHost('host');
    assert.throws(() => s.addHost('host'), /already has 2 hosts/);
  } finally {
    sfu.close();
  }
});

test('a worker that dies is replaced and the stages it carried close with reason worker-died; others go on', async () => {
  const sfu = await Sfu.create(config, silentLogger());
  try {
    const s1 = await sfu.createStage('s1');
    const s2 = await sfu.createStage('s2');
    const victimPid = sfu.workers.pids[0]!;
    const died = sfu.workers.waitFor('workerdied');
    const replaced = sfu.workers.waitFor('workerreplaced');
    const s1Closed = s1.waitFor('close');
    process.kill(victimPid, 'SIGKILL');
    const [pid] = await died;
    assert.equal(pid, victimPid);
    // Exactly one of the two stages was on the dead worker (stages spread over workers).
    // Stages go to the least loaded worker in order, so s1 was on the first worker.
    const [reason] = await s1Closed;
    const survivors = [s1, s2].filter((s) => !s.closed);
    assert.equal(reason, 'worker-died');
    assert.equal(survivors.length, 1);
    // The pool is back to full strength, and new stages work.
    const [deadPid, newPid] = await replaced;
    assert.equal(deadPid, victimPid);
    assert.equal(sfu.workers.size, 2);
    assert.ok(!sfu.workers.pids.includes(victimPid) && sfu.workers.pids.includes(newPid));
    const s3 = await sfu.createStage('s3');
    await s3.addHost('host').createTransport();
    await survivors[0]!.addHost('host').createTransport();
  } finally {
    sfu.close();
  }
});
