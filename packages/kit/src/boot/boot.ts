import { stopAgents, startAgents, wantedAgents } from '../agents/index.js';
import { buildInfoOf, type Reporter, type Settings } from '../core/index.cjs';
import { kitWorkers, Pm2Client, waitForKitWorkers, type Pm2Process } from '../cluster/index.js';

export interface Booted {
  web: Pm2Process[];
  agents: string[];
}

/**
 * What the boot unit's ExecStart runs: the PM2 daemon with the apps saved by
 * start-pm2/stop-pm2 (`pm2 resurrect`), then the agents that desired.json
 * wants, and it waits until both are healthy. What was stopped before the
 * reboot stays stopped: stop-pm2 saved an empty list and unwanted the agents.
 */
export function boot(settings: Settings, report: Reporter): Promise<Booted> {
  return Pm2Client.using(async (client) => {
    report.step('starting PM2 with the saved apps (pm2 resurrect)');
    const restored = await client.resurrect();
    if (!restored) report.warn('no saved PM2 process list: no app to restore');

    const agents = await wantedAgents(settings);
    if (agents.length > 0) {
      report.step(`starting the wanted agents: ${agents.join(', ')}`);
      await startAgents(settings, agents, {}, report);
    }

    let web: Pm2Process[] = [];
    if (kitWorkers(await client.list(), settings).length > 0) {
      report.step('waiting for the web workers');
      web = await waitForKitWorkers(client, settings, (await buildInfoOf(settings.siteDir)).id, report);
    }
    return { web, agents };
  });
}

/**
 * What the boot unit's ExecStop runs: stops the agents but keeps them
 * wanted, so the next boot brings them back. systemd then sends SIGTERM to
 * the PM2 daemon, which saves its list and stops the workers gracefully.
 */
export async function halt(settings: Settings, report: Reporter): Promise<void> {
  await stopAgents(settings, 'all', { timeoutMs: 10_000, force: false, keepWanted: true }, report);
}
