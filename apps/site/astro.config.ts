import node from '@astrojs/node';
import { defineConfig } from 'astro/config';

// Host names the site answers to (SITE_HOSTS, read at build time). Astro
// trusts the Host header only for these; for any other it builds URLs for
// `localhost`, and its CSRF check then refuses same-origin form posts.
const hosts = (process.env.SITE_HOSTS ?? 'localhost,127.0.0.1')
  .split(',')
  .map((host) => host.trim())
  .filter(Boolean);

// A plain @astrojs/node site in standalone mode, configured as any site
// would be: the kit takes each build from dist/ into a release of its own
// and serves it with the adapter's `handler` (static files and SSR).
export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  server: { host: '127.0.0.1', port: 4321 },
  security: { allowedDomains: hosts.map((hostname) => ({ hostname })) },
  // Sessions safe with many workers: whole-file writes, or Redis when REDIS_URL
  // is set (chosen when a worker starts, so one build serves both). The kit's
  // web worker adds `Secure` to the cookie on HTTPS requests.
  session: {
    driver: 'astro-cluster-kit/sessions',
    cookie: { name: 'kit-session', sameSite: 'lax', secure: false },
    ttl: 14 * 86_400,
  },
  // Ship CSS and scripts as hashed files under /_astro/ (cached forever by
  // browsers) rather than inlined: deploys must keep old ones reachable.
  build: { inlineStylesheets: 'never' },
  vite: {
    build: { assetsInlineLimit: 0 },
    // Each build's script differs (src/scripts/nav.ts shows it), so the
    // deploy tests can tell one release's assets from another's.
    define: { 'import.meta.env.BUILT_AT': JSON.stringify(new Date().toISOString()) },
  },
});
