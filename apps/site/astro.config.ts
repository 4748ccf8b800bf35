import node from '@astrojs/node';
import { defineConfig } from 'astro/config';
import { buildInfo } from './integrations/build-info';

// The kit's web worker (packages/web) imports dist/server/entry.mjs with
// ASTRO_NODE_AUTOSTART=disabled and serves its `handler` itself: standalone
// mode because that handler also serves dist/client (hashed assets included).
export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  server: { host: '127.0.0.1', port: 4321 },
  integrations: [buildInfo()],
  // Ship CSS and scripts as hashed files under /_astro/ (cached forever by
  // browsers) rather than inlined: deploys must keep old ones reachable.
  build: { inlineStylesheets: 'never' },
  vite: {
    build: { assetsInlineLimit: 0 },
    // Kit libraries are compiled workspace packages: load them from
    // node_modules at run time instead of bundling a second copy.
    ssr: { external: ['@kit/core', '@kit/agents', '@kit/events'] },
  },
});
