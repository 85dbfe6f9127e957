// Reads a /metrics endpoint the way a Prometheus scrape would, for assertions.

/** Parses the Prometheus text format into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** GETs `url` (a /metrics endpoint) and parses it. */
export async function scrapeMetrics(url: string, headers: Record<string, string> = {}): Promise<{ status: number; metrics: Map<string, number>; text: string }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, metrics: parseMetrics(text), text };
}
