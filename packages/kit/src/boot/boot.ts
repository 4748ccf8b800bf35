import { commandText, readLauncher, runLauncher, stopAgents, startAgents, wantedAgents, type Launcher, type LauncherRun } from '../agents/index.js';
import { buildInfoOf, errors, type Reporter, type Settings } from '../core/index.cjs';
import { kitWorkers, Pm2Client, waitForKitWorkers, type Pm2Process } from '../cluster/index.js';

export interface Booted {
  web: Pm2Process[];
  agents: string[];
  /** Whether agents.launcher's start command ran and succeeded; undefined when the project keeps no launcher. */
  launcher?: boolean;
}

/**
 * What the boot unit's ExecStart runs: the PM2 daemon with the apps saved by
 * start-pm2/stop-pm2 (`pm2 resurrect`), then the agents that desired.json
 * wants and the launcher's start command (a project that keeps its own
 * launcher), and it waits until both are healthy. What was stopped before
 * the reboot stays stopped: stop-pm2 saved an empty list and unwanted the
 * agents. A launcher that fails is a KIT_LAUNCHER_FAILED, thrown once the
 * web workers were waited for: the site comes back either way.
 */
export function boot(settings: Settings, report: Reporter): Promise<Booted> {
  const launcher = readLauncher(settings);
  return Pm2Client.using(async (client) => {
    report.step('starting PM2 with the saved apps (pm2 resurrect)');
    const restored = await client.resurrect();
    if (!restored) report.warn('no saved PM2 process list: no app to restore');

    const agents = await wantedAgents(settings);
    if (agents.length > 0) {
      report.step(`starting the wanted agents: ${agents.join(', ')}`);
      await startAgents(settings, agents, {}, report);
    }
    const launched = launcher ? await runLauncher(settings, launcher, 'start', report) : undefined;
    if (launched?.ok) report.done('the launcher started its agents');

    let web: Pm2Process[] = [];
    if (kitWorkers(await client.list(), settings).length > 0) {
      report.step('waiting for the web workers');
      web = await waitForKitWorkers(client, settings, (await buildInfoOf(settings.siteDir)).id, report);
    }
    if (launcher && launched && !launched.ok) throw launcherError(launcher, 'start', launched);
    return { web, agents, ...(launched && { launcher: launched.ok }) };
  });
}

/**
 * What the boot unit's ExecStop runs: stops the agents but keeps them
 * wanted, so the next boot brings them back, then runs the launcher's stop
 * command. systemd then sends SIGTERM to the PM2 daemon, which saves its
 * list and stops the workers gracefully.
 */
export async function halt(settings: Settings, report: Reporter): Promise<void> {
  const launcher = readLauncher(settings);
  await stopAgents(settings, 'all', { timeoutMs: 10_000, force: false, keepWanted: true }, report);
  if (!launcher) return;
  const launched = await runLauncher(settings, launcher, 'stop', report);
  if (!launched.ok) throw launcherError(launcher, 'stop', launched);
  report.done('the launcher stopped its agents');
}

function launcherError(launcher: Launcher, which: 'start' | 'stop', run: LauncherRun) {
  const last = run.output.trimEnd().split('\n').slice(-10).join('\n');
  return errors.launcherFailed(`${which} the agents`, commandText(launcher[which]), `${run.error ?? `it exited with code ${run.code}`}${last ? `; last lines of its output:\n${last}` : ''}`);
}
