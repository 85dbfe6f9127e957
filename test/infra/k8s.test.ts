// Kubernetes manifests, checked statically (no cluster here): parsed with `yaml`
// and checked for what the roles need: probes on the health endpoints, graceful
// termination that drains, PDBs and the HPA on the right workloads, config from
// the ConfigMap and Secret, the SFU's host networking and announced address, the
// broadcast nodes' stable ids, RTP address and UDP range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { appConfigSchema } from '../../app/config.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../infra/k8s');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

function load(): Doc[] {
  const docs: Doc[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      assert.deepEqual(d.errors, [], `${file} parses`);
      const doc = d.toJS() as Doc | null;
      if (doc) docs.push(doc);
    }
  }
  return docs;
}

const find = (docs: Doc[], kind: string, name: string): Doc => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind}/${name} exists`);
  return d;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const container = (d: Doc): any => d.spec.template.spec.containers[0];
const envOf = (d: Doc) => new Map<string, { value?: string; valueFrom?: Record<string, Record<string, string>> }>(container(d).env.map((e: { name: string }) => [e.name, e]));

test('every object is namespaced in stagecast and every selector matches its pod template', () => {
  const docs = load();
  for (const d of docs.filter((x) => x.kind !== 'Namespace')) assert.equal(d.metadata.namespace, 'stagecast', `${d.kind}/${d.metadata.name}`);
  for (const d of docs.filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind))) {
    assert.deepEqual(d.spec.selector.matchLabels, Object.fromEntries(Object.entries(d.spec.template.metadata.labels).filter(([k]) => k in d.spec.selector.matchLabels)));
  }
});

test('sfu: host networking, WebRTC on the configured port range announced at the node IP, probes on /healthz and /readyz, secrets from the Secret', () => {
  const docs = load();
  const sfu = find(docs, 'Deployment', 'sfu');
  const pod = sfu.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'cluster DNS (broadcast node names) with host networking');
  assert.equal(sfu.spec.strategy.type, 'Recreate', 'host ports are not shared during a rollout');
  const env = envOf(sfu);
  assert.equal(env.get('STAGECAST_ROLE')?.value, 'sfu');
  assert.equal(env.get('STAGECAST_RTC_LISTEN_IP')?.value, '0.0.0.0');
  assert.equal(env.get('STAGECAST_RTC_ANNOUNCED_ADDRESS')?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP');
  for (const [name, key] of [
    ['STAGECAST_ADMIN_TOKEN', 'admin-token'],
    ['STAGECAST_HOST_TOKEN_SECRET', 'host-token-secret'],
    ['STAGECAST_INTERNAL_TOKEN', 'internal-token'],
  ] as const) {
    assert.deepEqual(env.get(name)?.valueFrom?.secretKeyRef, { name: 'stagecast-secrets', key }, name);
  }
  const c = container(sfu);
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.ok(pod.terminationGracePeriodSeconds >= 30);
  assert.ok(c.lifecycle.preStop, 'preStop before SIGTERM');
  assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'stagecast-config' } }]);
  const config = find(docs, 'ConfigMap', 'stagecast-config').data!;
  const [rtcMin, rtcMax] = [Number(config.STAGECAST_RTC_MIN_PORT), Number(config.STAGECAST_RTC_MAX_PORT)];
  assert.ok(rtcMin >= 1024 && rtcMax > rtcMin, `WebRTC port range ${rtcMin}-${rtcMax} on the host`);
  const [rtpMin, rtpMax] = [Number(config.STAGECAST_RTP_MIN_PORT), Number(config.STAGECAST_RTP_MAX_PORT)];
  assert.ok(rtcMax < rtpMin || rtpMax < rtcMin, 'WebRTC and RTP ranges do not overlap');
});

test('broadcast nodes: a StatefulSet whose pod names are the node ids, RTP at the pod IP on the UDP range, drain on preStop within a long grace', () => {
  const docs = load();
  const sts = find(docs, 'StatefulSet', 'broadcast');
  const svc = find(docs, 'Service', sts.spec.serviceName);
  assert.equal(svc.spec.clusterIP, 'None', 'a headless Service gives each pod a stable DNS name');
  assert.equal(svc.spec.publishNotReadyAddresses, true, 'a draining (not ready) node stays reachable for its running broadcasts');
  const env = envOf(sts);
  assert.equal(env.get('STAGECAST_ROLE')?.value, 'broadcast');
  assert.equal(env.get('STAGECAST_NODE_ID')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
  assert.equal(env.get('STAGECAST_RTP_ADDRESS')?.valueFrom?.fieldRef?.fieldPath, 'status.podIP');
  assert.equal(env.get('STAGECAST_S3_PREFIX')?.value, 'b/$(STAGECAST_NODE_ID)/live/', 'store keys equal the CDN paths');
  assert.deepEqual(env.get('STAGECAST_INTERNAL_TOKEN')?.valueFrom?.secretKeyRef, { name: 'stagecast-secrets', key: 'internal-token' });
  const c = container(sts);
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.deepEqual(c.lifecycle.preStop.exec.command.slice(0, 4), ['node', '--import', 'tsx', 'scripts/drain.ts']);
  const drainSeconds = Number(c.lifecycle.preStop.exec.command[4]);
  assert.ok(sts.spec.template.spec.terminationGracePeriodSeconds > drainSeconds, 'SIGTERM comes after the drain budget, within the grace');

  // The UDP range SFUs send RTP to is open, and it is the range the nodes allocate from.
  const config = find(docs, 'ConfigMap', 'stagecast-config').data!;
  const [min, max] = [Number(config.STAGECAST_RTP_MIN_PORT), Number(config.STAGECAST_RTP_MAX_PORT)];
  const policy = find(docs, 'NetworkPolicy', 'broadcast-ingress');
  const udp = policy.spec.ingress.flatMap((r: { ports: { protocol: string; port: number; endPort?: number }[] }) => r.ports).find((p: { protocol: string }) => p.protocol === 'UDP');
  assert.deepEqual({ port: udp.port, endPort: udp.endPort }, { port: min, endPort: max });
});

test('the ConfigMap is a valid sfu config, and the broadcast node list covers every pod the autoscaler may create', () => {
  const docs = load();
  const config = find(docs, 'ConfigMap', 'stagecast-config').data!;
  const parsed = appConfigSchema.safeParse({
    role: 'sfu',
    adminToken: 'x'.repeat(32),
    internalToken: 'y'.repeat(32),
    broadcastNodes: config.STAGECAST_BROADCAST_NODES,
    cdnBaseUrl: config.STAGECAST_CDN_BASE_URL,
    ingest: { hostTokenSecret: 'z'.repeat(32), listenIp: '0.0.0.0', announcedAddress: '192.0.2.1' },
  });
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  const hpa = find(docs, 'HorizontalPodAutoscaler', 'broadcast');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'broadcast' });
  const ids = parsed.data.broadcastNodes.map((n) => n.id);
  for (let i = 0; i < hpa.spec.maxReplicas; i++) assert.ok(ids.includes(`broadcast-${i}`), `broadcast-${i} is a placement candidate`);
  for (const n of parsed.data.broadcastNodes) assert.equal(new URL(n.url).hostname, `${n.id}.broadcast.stagecast.svc.cluster.local`);
  // Every key the manifests read from the Secret exists in the example Secret.
  const secret = find(docs, 'Secret', 'stagecast-secrets');
  const keys = new Set(Object.keys(secret.stringData ?? {}));
  for (const d of docs.filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind))) {
    for (const e of container(d).env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) assert.ok(ref.name === 'stagecast-secrets' && keys.has(ref.key), `${d.metadata.name}: ${e.name} → ${ref.name}/${ref.key}`);
    }
  }
});

test('autoscaling on CPU, and a PodDisruptionBudget for each role', () => {
  const docs = load();
  const hpa = find(docs, 'HorizontalPodAutoscaler', 'broadcast');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  const cpu = hpa.spec.metrics.find((m: { resource?: { name: string } }) => m.resource?.name === 'cpu');
  assert.equal(cpu.resource.target.type, 'Utilization');
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
  assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, 'scale-down is slow: a removed pod drains live events');
  for (const [name, component] of [
    ['sfu', 'sfu'],
    ['broadcast', 'broadcast'],
    ['edge', 'edge'],
  ]) {
    const pdb = find(docs, 'PodDisruptionBudget', name!);
    assert.equal(pdb.apiVersion, 'policy/v1');
    assert.equal(pdb.spec.selector.matchLabels['app.kubernetes.io/component'], component);
    assert.ok(pdb.spec.minAvailable !== undefined || pdb.spec.maxUnavailable !== undefined);
  }
  // Requests are what the HPA's utilisation is measured against.
  assert.ok(container(find(docs, 'StatefulSet', 'broadcast')).resources.requests.cpu);
});

test('the edge routes /b/<node>/live and /watch to that node by DNS name and never /internal/', () => {
  const docs = load();
  const conf = find(docs, 'ConfigMap', 'edge-nginx').data!['default.conf']!;
  const m = /location ~ \^\/b\/\(\?<node>([^)]+)\)\/\(\?<rest>\(([^)]+)\)/.exec(conf);
  assert.ok(m, 'a regex location captures the node id');
  assert.deepEqual(m[2]!.split('|').sort(), ['live', 'watch'], 'only media and pages are routed');
  assert.match(conf, /proxy_pass http:\/\/\$node\.broadcast\.stagecast\.svc\.cluster\.local:8080\/b\/\$node\/\$rest\$is_args\$args;/);
  assert.match(conf, /resolver /, 'pod names are resolved at request time');
  const re = new RegExp(m[1]!.replace(/\\/g, '\\'));
  assert.ok(re.test('broadcast-7') && !re.test('sfu-0'));
});

test('both roles are scraped for their own /metrics, with the metrics token from the Secret', () => {
  const docs = load();
  const secret = find(docs, 'Secret', 'stagecast-secrets').stringData!;
  assert.ok('metrics-token' in secret, 'the example Secret names the metrics token');
  for (const d of [find(docs, 'Deployment', 'sfu'), find(docs, 'StatefulSet', 'broadcast')]) {
    const annotations = d.spec.template.metadata.annotations ?? {};
    const port = container(d).ports.find((p: { name: string }) => p.name === 'http').containerPort;
    assert.deepEqual(
      [annotations['prometheus.io/scrape'], annotations['prometheus.io/path'], annotations['prometheus.io/port']],
      ['true', '/metrics', String(port)],
      `${d.metadata.name}: scrape annotations on the pod template`,
    );
    assert.deepEqual(envOf(d).get('STAGECAST_METRICS_TOKEN')?.valueFrom?.secretKeyRef, { name: 'stagecast-secrets', key: 'metrics-token', optional: true });
  }
});
