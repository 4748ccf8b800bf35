export { createApp, type Route, type RouteTable } from './app.js';
export { loadAstroSite, type AstroSite } from './astro-site.js';
export { startWorker } from './worker.js';
