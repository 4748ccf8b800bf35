export { createApp, type Route, type RouteTable } from './app.js';
export { loadAstroSite, readBuildInfo, type AstroSite, type BuildInfo } from './astro-site.js';
export { startWorker } from './worker.js';
