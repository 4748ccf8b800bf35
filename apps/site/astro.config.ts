import node from '@astrojs/node';
import { defineConfig } from 'astro/config';
import { buildInfo } from './integrations/build-info';

// Host names the site answers to (SITE_HOSTS, read at build time). Astro
// trusts the Host header only for these; for any other it builds URLs for
// `localhost`, and its CSRF check then refuses same-origin form posts.
const hosts = (process.env.SITE_HOSTS ?? 'localhost,127.0.0.1')
  .split(',')
  .map((host) => host.trim())
  .filter(Boolean);

// The kit's web worker (packages/web) imports dist/server/entry.mjs with
// ASTRO_NODE_AUTOSTART=disabled and serves its `handler` itself: standalone
// mode because that handler also serves dist/client (hashed assets included).
export default defineConfig({
  output: 'server',
  // bin/deploy builds each release into a folder of its own (SITE_OUT_DIR);
  // apps/site/dist is a symlink to the current one.
  outDir: process.env.SITE_OUT_DIR ?? './dist',
  adapter: node({ mode: 'standalone' }),
  server: { host: '127.0.0.1', port: 4321 },
  integrations: [buildInfo()],
  security: { allowedDomains: hosts.map((hostname) => ({ hostname })) },
  // Sessions safe with many workers: whole-file writes, or Redis when REDIS_URL
  // is set (chosen when a worker starts, so one build serves both). The kit's
  // web worker adds `Secure` to the cookie on HTTPS requests.
  session: {
    driver: '@kit/sessions/driver',
    cookie: { name: 'kit-session', sameSite: 'lax', secure: false },
    ttl: 14 * 86_400,
  },
  // Ship CSS and scripts as hashed files under /_astro/ (cached forever by
  // browsers) rather than inlined: deploys must keep old ones reachable.
  build: { inlineStylesheets: 'never' },
  vite: {
    build: { assetsInlineLimit: 0 },
    // Kit libraries are compiled workspace packages: load them from
    // node_modules at run time instead of bundling a second copy.
    ssr: { external: ['@kit/core', '@kit/agents', '@kit/events', '@kit/sessions', '@kit/monitor'] },
  },
});
