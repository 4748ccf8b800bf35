import path from 'node:path';
import { loadAgents, startAgents, stopAgents, type StartResult, type StopResult } from '../agents/index.js';
import { saveProcessList, startWeb, stopWeb, type Pm2Process, type WebState } from '../cluster/index.js';
import { buildInfoOf, readSettings, type Reporter, type Settings } from '../core/index.cjs';
import { audit, openEventLog, type AuditEntry } from '../events/index.js';
import { checkDependencies, checkNode, ensureSiteBuild } from './preflight.js';

export interface StartOptions {
  /** Start the singleton agents before the web cluster (bin/start-pm2 --no-agents turns it off). */
  agents: boolean;
}

export interface KitStarted {
  settings: Settings;
  web: WebState;
  agents: StartResult[];
}

/**
 * Everything bin/start-pm2 does: preflight (Node, dependencies, settings,
 * build), the agents, then the web cluster. Safe to run again at any time.
 */
export async function startKit(options: StartOptions, report: Reporter): Promise<KitStarted> {
  checkNode();
  const settings = readSettings();
  checkDependencies(settings);
  // A build made now was tried already: the reload need not try it again.
  const built = await ensureSiteBuild(settings, report);
  const build = (await buildInfoOf(settings.siteDir)).id;
  // Agents start before the web cluster so that pages showing them find them running.
  let agents: StartResult[] = [];
  if (options.agents) {
    if ((await loadAgents(settings.agentsConfig)).length === 0) {
      report.done(`no agents configured (agents.list in ${path.basename(settings.agentsConfig)})`);
    } else {
      report.step('starting the agents (astro-cluster agents start)');
      agents = await startAgents(settings, [], {}, report);
    }
  }
  let web: WebState;
  try {
    web = await startWeb(settings, build, report, { tried: built });
  } catch (error) {
    // Leave nothing half-started: the agents this run started go again; ones that already ran stay.
    const startedNow = agents.filter((agent) => !agent.already).map((agent) => agent.name);
    if (startedNow.length > 0) {
      report.warn(`stopping the agents this start started: ${startedNow.join(', ')}`);
      await stopAgents(settings, startedNow, { timeoutMs: 10_000, force: false }, report).catch(() => undefined);
    }
    throw error;
  }
  // What boots (bin/startup) is what runs now.
  await saveProcessList();
  await announce(settings, report, {
    source: 'start-pm2',
    kind: web.action,
    message: `web ${web.action}: ${web.workers.length} worker(s) serving build ${build}`,
    build,
    workers: web.workers.map((worker) => worker.pid),
  });
  return { settings, web, agents };
}

export interface KitStopped {
  web: Pm2Process[];
  agents: StopResult[];
}

/** Everything bin/stop-pm2 does: the web cluster first (its pages read the agents), then the agents and their supervisor. */
export async function stopKit(report: Reporter): Promise<KitStopped> {
  const settings = readSettings();
  const web = await stopWeb(settings, report);
  // A reboot must not bring back what was stopped.
  await saveProcessList();
  report.done(web.length === 0 ? 'no web worker of the kit was running' : `stopped ${web[0]?.name}: ${web.length} worker(s), pids ${web.map((w) => w.pid).join(', ')}`);
  const agents = await stopAgents(settings, 'all', { timeoutMs: 10_000, force: false }, report);
  if (web.length > 0 || agents.some((agent) => agent.outcome !== 'not-running')) {
    await announce(settings, report, { source: 'stop-pm2', kind: 'stopped', message: `stopped ${web.length} web worker(s) and the agents` });
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
