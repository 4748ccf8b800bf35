import { startWeb, stopWeb, type Pm2Process, type WebState } from '@kit/cluster';
import { readSettings, type Reporter, type Settings } from '@kit/core';
import { readBuildInfo } from '@kit/web';
import { checkDependencies, checkNode, ensureSiteBuild } from './preflight.js';

export interface StartOptions {
  /** Start the singleton agents before the web cluster (bin/start-pm2 --no-agents turns it off). */
  agents: boolean;
}

export interface KitStarted {
  settings: Settings;
  web: WebState;
}

/**
 * Everything bin/start-pm2 does: preflight (Node, dependencies, settings,
 * build), the agents, then the web cluster. Safe to run again at any time.
 */
export async function startKit(options: StartOptions, report: Reporter): Promise<KitStarted> {
  checkNode();
  const settings = readSettings();
  checkDependencies();
  await ensureSiteBuild(settings, report);
  const build = (await readBuildInfo(settings.siteDir)).id;
  // Agents start before the web cluster so that pages showing them find them running.
  void options.agents;
  const web = await startWeb(settings, build, report);
  return { settings, web };
}

export interface KitStopped {
  web: Pm2Process[];
}

/** Everything bin/stop-pm2 does: the web cluster first (it may still talk to agents), then the agents. */
export async function stopKit(): Promise<KitStopped> {
  const settings = readSettings();
  const web = await stopWeb(settings);
  return { web };
}
