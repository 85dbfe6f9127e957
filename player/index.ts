/**
 * player/: what viewers and site owners load. Takes in a broadcast's URLs (the
 * origin's playlists and MPD). Gives out the hls.js watch page, the DASH check
 * page, the embeddable latency controller and <stagecast-player>, bundled in
 * memory by esbuild, and the index page and docs served at /.
 */
export { buildPlayerPages, createPlayerRouter, EMBED_MODULE_PATH, PLAYER_ELEMENT_PATH, type PlayerAssets } from './pages.ts';
export { loadDocs, type Doc } from './docs.ts';
export { createSiteRouter, type SiteRouterOptions } from './siteRouter.ts';
export { embedSnippets, type EmbedSnippets } from './embedSnippet.ts';
