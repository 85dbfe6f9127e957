// preStop hook of a broadcast node (infra/k8s): stop taking new broadcasts,
// then wait until the running ones have ended (or the budget runs out), so the
// SIGTERM that follows finds nothing live. Usage: node --import tsx scripts/drain.ts [maxSeconds]
const port = process.env.STAGECAST_HTTP_PORT || '8080';
const token = process.env.STAGECAST_INTERNAL_TOKEN;
const budgetMs = Number(process.argv[2] || process.env.STAGECAST_DRAIN_SECONDS || 3300) * 1000;
const base = `http://127.0.0.1:${port}/internal`;
const headers = { authorization: `Bearer ${token}` };
const deadline = Date.now() + budgetMs;

const res = await fetch(`${base}/drain`, { method: 'POST', headers });
if (!res.ok) {
  console.error(`drain: ${res.status}`);
  process.exit(1);
}
for (;;) {
  const ready = (await (await fetch(`${base}/ready`, { headers })).json()) as { feeds: number };
  console.log(`drain: ${ready.feeds} broadcast(s) running`);
  if (ready.feeds === 0 || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 5000));
}
