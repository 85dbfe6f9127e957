// The page at `/`: where a newcomer who opened the printed address finds the
// host page, the viewer pages, the embed snippets and the documentation.
import { escapeHtml, type Doc } from './docs.ts';
import { embedSnippets } from './embedSnippet.ts';

export interface IndexPageOptions {
  /** Base URL viewers reach pages and media at (the CDN's when there is one). */
  viewerBase: string;
  /** The stage created at start-up; '' for none (the links then show `<id>`-less examples). */
  stageId: string;
  /** Viewer links need a signature (viewerAuth.required). */
  signedViewerUrls: boolean;
  docs: readonly Doc[];
}

const EXAMPLE_STAGE = 'main';

export function renderIndexPage(o: IndexPageOptions): string {
  const stage = o.stageId || EXAMPLE_STAGE;
  const id = encodeURIComponent(stage);
  const e = escapeHtml;
  const snippets = embedSnippets({ base: o.viewerBase, broadcast: stage });
  const embedDoc = o.docs.find((d) => d.file === 'docs/embedding.md');
  const docItems = o.docs
    .map((d) => {
      const sections = d.sections.map((s) => `<a href="${e(d.url)}#${e(s.id)}">${e(s.title)}</a>`).join(' · ');
      return `<li><a href="${e(d.url)}">${e(d.title)}</a> <code>${e(d.file)}</code>${sections ? `<br><small>${sections}</small>` : ''}</li>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stagecast</title>
<style>
  :root { font-family: system-ui, sans-serif; color-scheme: dark; background: #111; color: #eee; }
  body { max-width: 900px; margin: 1rem auto; padding: 0 1rem; line-height: 1.5; }
  a { color: #8ab4f8; }
  pre { background: #1c1c1c; padding: .75rem; border-radius: 6px; overflow-x: auto; }
  li { margin-bottom: .4rem; }
</style>
</head>
<body>
<h1>stagecast</h1>
<p>Hosts go live from a browser (or OBS over WHIP); viewers watch the stage as low-latency HLS or DASH.</p>

<h2>Go live</h2>
<ul>
  <li><a href="/host/?stage=${id}">Host page</a> for the stage <code>${e(stage)}</code>: it needs the host token,
    <code>#token=…</code>; <code>npm start</code> prints the whole link. Other stages and tokens come from the control API
    (<code>POST /api/stages</code>, <code>POST /api/stages/&lt;id&gt;/host-tokens</code>).</li>
  <li>Then start the broadcast: <code>POST /api/stages/${e(stage)}/live</code> with the control API token.</li>
</ul>

<h2>Watch</h2>
${o.signedViewerUrls ? '<p>This server serves signed viewer URLs only: get one from <code>POST /api/stages/&lt;id&gt;/viewer-tokens</code>.</p>\n' : ''}<ul>
  <li><a href="/watch/?stage=${id}">Viewer page (HLS, hls.js)</a> for <code>${e(stage)}</code>: its current broadcast, else its latest recording</li>
  <li><a href="/watch/dash.html?stage=${id}">DASH check page (dash.js)</a> for <code>${e(stage)}</code></li>
</ul>
<form action="/watch/" method="get">
  <label>Another stage: <input name="stage" pattern="[A-Za-z0-9_-]{1,64}" required placeholder="stage id"></label>
  <button>Watch (HLS)</button> <button formaction="/watch/dash.html">Watch (DASH)</button>
</form>

<h2>Embed on another site</h2>
<p>With the site's own hls.js and our latency controller (<a href="/watch/stagecast.js">/watch/stagecast.js</a>, no hls.js inside):</p>
<pre><code>${e(snippets.hlsjs)}</code></pre>
<p>Or the whole player in one element (<a href="/watch/stagecast-player.js">/watch/stagecast-player.js</a>, hls.js inside):</p>
<pre><code>${e(snippets.element)}</code></pre>
${embedDoc ? `<p>Options, CORS and caching: <a href="${e(embedDoc.url)}">${e(embedDoc.title)}</a>.</p>\n` : ''}
<h2>Documentation</h2>
<ul>
${docItems}
</ul>
</body>
</html>
`;
}
