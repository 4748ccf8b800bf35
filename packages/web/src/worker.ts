import { readSettings, type Settings } from '@kit/core';
import { serve, type RunningServer } from '@kit/server';
import { createApp } from './app.js';
import { loadAstroSite } from './astro-site.js';
import { healthz, instanceId } from './routes/healthz.js';

/**
 * One web worker: import the Astro build, then listen and tell PM2 it is
 * ready. A build that fails to import never reaches `ready`, so a reload
 * leaves the old workers serving until listen_timeout.
 */
export async function startWorker(settings: Settings = readSettings()): Promise<RunningServer> {
  const startedAt = Date.now();
  const site = await loadAstroSite(settings.siteDir);
  const app = createApp({ '/healthz': healthz({ build: site.build.id, startedAt }) }, site.handler);
  const running = await serve({
    handler: app,
    host: settings.host,
    port: settings.port,
    keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
    drainTimeoutMs: settings.drainTimeoutMs,
  });
  const who = instanceId() === null ? 'standalone' : `worker ${instanceId()}`;
  console.log(`${who} (pid ${process.pid}) serving build ${site.build.id} on http://${settings.host}:${running.port} after ${Date.now() - startedAt} ms`);
  return running;
}
