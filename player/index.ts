export { buildPlayerPages, createPlayerRouter, EMBED_MODULE_PATH, PLAYER_ELEMENT_PATH, type PlayerAssets } from './pages.ts';
export { loadDocs, type Doc } from './docs.ts';
export { createSiteRouter, type SiteRouterOptions } from './siteRouter.ts';
export { embedSnippets, type EmbedSnippets } from './embedSnippet.ts';
