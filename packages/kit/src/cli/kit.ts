import path from 'node:path';
import { commandText, loadAgents, readLauncher, runLauncher, startAgents, stopAgents, type Launcher, type LauncherRun, type StartResult, type StopResult } from '../agents/index.js';
import { saveProcessList, startWeb, stopWeb, type Pm2Process, type WebState } from '../cluster/index.js';
import { buildInfoOf, errors, isKitError, readSettings, type Reporter, type Settings } from '../core/index.cjs';
import { audit, openEventLog, type AuditEntry } from '../events/index.js';
import { registerHost } from '../hosts/registry.js';
import { checkDependencies, checkNode, ensureSiteBuild } from './preflight.js';

export interface StartOptions {
  /** Start the singleton agents before the web cluster (bin/start-pm2 --no-agents turns it off). */
  agents: boolean;
}

export interface KitStarted {
  settings: Settings;
  /** Undefined on a host without the web role (roles / ASTRO_CLUSTER_ROLES). */
  web: WebState | undefined;
  agents: StartResult[];
  /** Agents that did not start (the launcher's start, or the kit's own agents), each with why; the web cluster was started all the same. */
  failedAgents: { name: string; why: string }[];
}

/**
 * Everything bin/start-pm2 does: preflight (Node, dependencies, settings,
 * build), the agents, then the web cluster. Safe to run again at any time.
 * Agents that fail to start do not keep the site down: they are reported
 * and recorded in `failedAgents`, and the web cluster is started anyway.
 * The host's roles decide what starts: a web-only host starts no agents, an
 * agents-only host neither builds nor starts a web cluster.
 */
export async function startKit(options: StartOptions, report: Reporter): Promise<KitStarted> {
  checkNode();
  const settings = readSettings();
  // Checked before anything is built or started: a bad agents.launcher stops the command at once.
  const launcher = readLauncher(settings);
  checkDependencies(settings);
  const runsWeb = settings.roles.includes('web');
  const runsAgents = settings.roles.includes('agents');
  if (!runsWeb || !runsAgents) report.done(`host ${settings.hostName} runs ${runsWeb ? 'the web cluster only' : 'the agents only'} (roles: ${settings.roles.join(', ')})`);
  // A build made now was tried already: the reload need not try it again.
  const built = runsWeb ? await ensureSiteBuild(settings, report) : false;
  const build = runsWeb ? (await buildInfoOf(settings.siteDir)).id : undefined;
  // Agents start before the web cluster so that pages showing them find them running.
  let agents: StartResult[] = [];
  const failedAgents: KitStarted['failedAgents'] = [];
  if (options.agents && runsAgents) {
    if (launcher) {
      const run = await runLauncher(settings, launcher, 'start', report);
      if (run.ok) report.done(`the launcher started the agents (${commandText(launcher.start)})`);
      else failedAgents.push(launcherFailure(report, launcher, run));
    }
    if ((await loadAgents(settings.agentsConfig)).length === 0) {
      if (!launcher) report.done(`no agents configured (agents.list in ${path.basename(settings.agentsConfig)})`);
    } else {
      report.step('starting the agents (astro-cluster agents start)');
      try {
        agents = await startAgents(settings, [], {}, report);
      } catch (error) {
        if (!isKitError(error)) throw error;
        report.warn(`the agents did not all start (${error.code}): ${error.message}`);
        failedAgents.push({ name: 'agents.list', why: `${error.code}: ${firstLine(error.message)}` });
      }
    }
  }
  let web: WebState | undefined;
  try {
    if (build !== undefined) web = await startWeb(settings, build, report, { tried: built });
  } catch (error) {
    // Leave nothing half-started: the agents this run started go again; ones that already ran stay.
    const startedNow = agents.filter((agent) => !agent.already).map((agent) => agent.name);
    if (startedNow.length > 0) {
      report.warn(`stopping the agents this start started: ${startedNow.join(', ')}`);
      await stopAgents(settings, startedNow, { timeoutMs: 10_000, force: false }, report).catch(() => undefined);
    }
    // Which of the launcher's agents this run started only the launcher knows: they are left to it.
    if (launcher && options.agents) report.warn(`the launcher's agents keep running (./bin/stop-pm2 runs its stop command: ${commandText(launcher.stop)})`);
    throw error;
  }
  // What boots (bin/startup) is what runs now.
  await saveProcessList();
  if (web) {
    await announce(settings, report, {
      source: 'start-pm2',
      kind: web.action,
      message: `web ${web.action}: ${web.workers.length} worker(s) serving build ${build} on host ${settings.hostName}`,
      build,
      workers: web.workers.map((worker) => worker.pid),
    });
  } else {
    // No web worker keeps this host's record: the start writes it once (bin/status refreshes it).
    await registerHost(settings, { name: settings.hostName, roles: settings.roles, release: null, listen: null, health: 'ok', by: `start-pm2 pid ${process.pid}`, updatedAt: new Date().toISOString() });
  }
  return { settings, web, agents, failedAgents };
}

/** Reports a launcher start that failed, with the last lines it printed, and records it. */
function launcherFailure(report: Reporter, launcher: Launcher, run: LauncherRun): { name: string; why: string } {
  const why = run.error ?? `it exited with code ${run.code}`;
  const last = lastLines(run.output, 10);
  report.warn(`the launcher did not start the agents: ${why} (${commandText(launcher.start)})${last ? `\nLast lines of its output:\n${last}` : ''}`);
  return { name: 'launcher', why: `${commandText(launcher.start)}: ${why}${last ? `; last line: ${last.split('\n').at(-1)}` : ''}` };
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

export interface KitStopped {
  web: Pm2Process[];
  agents: StopResult[];
}

/**
 * Everything bin/stop-pm2 does: the web cluster first (its pages read the
 * agents), then the agents and their supervisor, then the launcher's own
 * stop command. A launcher stop that fails is a KIT_LAUNCHER_FAILED, thrown
 * once everything else is stopped.
 */
export async function stopKit(report: Reporter): Promise<KitStopped> {
  const settings = readSettings();
  const launcher = readLauncher(settings);
  const web = await stopWeb(settings, report);
  // A reboot must not bring back what was stopped.
  await saveProcessList();
  report.done(web.length === 0 ? 'no web worker of the kit was running' : `stopped ${web[0]?.name}: ${web.length} worker(s), pids ${web.map((w) => w.pid).join(', ')}`);
  const agents = await stopAgents(settings, 'all', { timeoutMs: 10_000, force: false }, report);
  // The launcher's agents are its own: the kit runs its stop command and never looks for their processes itself.
  const launched = launcher ? await runLauncher(settings, launcher, 'stop', report) : undefined;
  if (launcher && launched?.ok) report.done(`the launcher stopped the agents (${commandText(launcher.stop)})`);
  if (web.length > 0 || launched || agents.some((agent) => agent.outcome !== 'not-running')) {
    await announce(settings, report, { source: 'stop-pm2', kind: 'stopped', message: `stopped ${web.length} web worker(s) and the agents` });
  }
  if (launcher && launched && !launched.ok) {
    const why = launched.error ?? `it exited with code ${launched.code}`;
    throw errors.launcherFailed('stop the agents', commandText(launcher.stop), `${why}${launched.output.trim() ? `; last lines of its output:\n${lastLines(launched.output, 10)}` : ''}`);
  }
  return { web, agents };
}

/** Tells the audit topic what a command did; a log that cannot be reached is a warning, not a failure. */
async function announce(settings: Settings, report: Reporter, entry: AuditEntry): Promise<void> {
  const log = openEventLog(settings);
  const failed = await audit(log, entry);
  await log.close();
  if (failed) report.warn(`could not report on the audit topic: ${failed.message}`);
}
