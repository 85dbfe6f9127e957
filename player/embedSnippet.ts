// The copy-paste snippets for embedding a broadcast on another site, with this
// deployment's URLs filled in: shown on the index page, documented in
// docs/embedding.md, and the very page the embed browser test plays.
import { EMBED_MODULE_PATH, PLAYER_ELEMENT_PATH } from './pages.ts';

export interface EmbedSnippetOptions {
  /** Base URL viewers reach `/watch/` and `/live/` at: the CDN's, or the origin's. */
  base: string;
  broadcast: string;
  /** The site's own hls.js (its UMD build, which defines `Hls`). */
  hlsJs?: string;
}

export interface EmbedSnippets {
  /** The site's hls.js with our settings and latency controller. */
  hlsjs: string;
  /** The <stagecast-player> element, hls.js included. */
  element: string;
}

export function embedSnippets({ base, broadcast, hlsJs = '/js/hls.min.js' }: EmbedSnippetOptions): EmbedSnippets {
  const root = base.replace(/\/$/, '');
  const playlist = `${root}/live/${broadcast}/master.m3u8`;
  return {
    hlsjs: `<!-- your own hls.js (1.x), loaded as your site does today -->
<script src="${hlsJs}"></script>
<video id="live" controls muted autoplay playsinline></video>
<script type="module">
  import { attachLatencyController, stagecastHlsConfig } from '${root}/watch${EMBED_MODULE_PATH}';
  const video = document.getElementById('live');
  const hls = new Hls({ ...stagecastHlsConfig() });
  attachLatencyController(hls, video);
  hls.loadSource('${playlist}');
  hls.attachMedia(video);
</script>`,
    element: `<script type="module" src="${root}/watch${PLAYER_ELEMENT_PATH}"></script>
<stagecast-player src="${playlist}" muted controls></stagecast-player>`,
  };
}
