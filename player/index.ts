export { buildPlayerPages, createPlayerRouter, type PlayerAssets } from './pages.ts';
