import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { agentsStatus, launcherStatus, readLauncher, wantedAgents, type AgentsStatus, type LauncherStatus } from '../agents/index.js';
import { expectedInstances, fetchHealth, kitWorkers, Pm2Client, runningDaemon, type HealthReport } from '../cluster/index.js';
import { isKitError, kitPackageRoot, localUrl, pm2Home, pollUntil, buildInfoOf, type BuildInfo, type Settings } from '../core/index.cjs';
import { listHosts, registerHost, type HostRecord } from '../hosts/registry.js';
import { outOfRotation } from '../hosts/rotation.js';
import { readMonitorState, workerSnapshot, type WorkerSnapshot } from './state.js';

export interface WorkerStatus extends WorkerSnapshot {
  /** The build it reported on the health path (web.healthPath); undefined when it did not answer. */
  build: string | undefined;
  /** When it serves the last good release because it could not load `wanted`. */
  degraded?: { wanted: string; reason: string };
}

export interface KitStatus {
  healthy: boolean;
  /** Why it is not healthy, one line each. */
  problems: string[];
  versions: { kit: string; node: string; pm2: string; astro: string };
  pm2: { home: string; daemonPid: number | undefined };
  web: { app: string; url: string; port: number; expected: number; build: string | undefined; workers: WorkerStatus[] };
  agents: AgentsStatus;
  /** What agents.launcher's status command said (the first JSON value it printed), when the project keeps a launcher with one. */
  launcher?: LauncherStatus;
  circuits: { app: string; openedAt: string; reason: string }[];
  /** This host: its name, roles, and whether it is out of the proxy's rotation. */
  host: { name: string; roles: string[]; outOfRotation: boolean };
  /**
   * Every host this one can see: with Redis, each host's record (hosts/registry.ts);
   * with files, this host alone. `registry` says which.
   */
  hosts: { registry: 'redis' | 'this host only' | 'redis unreachable'; list: HostRecord[] };
}

/**
 * One honest answer to "is it healthy?": every expected web worker online
 * and answering the health path with the current build, every wanted agent
 * running, no app stopped for crash-looping. Reads only: starts nothing.
 */
export async function kitStatus(settings: Settings): Promise<KitStatus> {
  const problems: string[] = [];
  const expected = expectedInstances(settings);
  const served = await buildInfoOf(settings.siteDir).catch(() => undefined);
  const build = served?.id;
  if (!build) problems.push(`there is no site build in ${settings.siteDir}`);

  const daemonPid = runningDaemon().pid;
  let workers: WorkerStatus[] = [];
  // A host without the web role (roles) runs no web cluster: nothing to miss.
  const web = settings.roles.includes('web');
  if (!web) {
    if (daemonPid !== undefined) workers = await webWorkers(settings);
  } else if (daemonPid === undefined) {
    problems.push(`no PM2 daemon runs for PM2_HOME ${pm2Home()}`);
  } else {
    workers = await webWorkers(settings);
    if (workers.length !== expected) problems.push(`${workers.length} of ${expected} web worker(s) exist`);
    for (const worker of workers) {
      if (worker.status !== 'online') problems.push(`web worker ${worker.instance} (pid ${worker.pid}) is ${worker.status}`);
      else if (!worker.build) problems.push(`web worker ${worker.instance} (pid ${worker.pid}) did not answer ${settings.healthPath}`);
      else if (worker.degraded) problems.push(`web worker ${worker.instance} (pid ${worker.pid}) is degraded: it serves the last good release ${worker.build} because build ${worker.degraded.wanted} could not be loaded (${worker.degraded.reason})`);
      else if (build && worker.build !== build) problems.push(`web worker ${worker.instance} (pid ${worker.pid}) serves build ${worker.build}, not ${build}`);
    }
  }

  const agents = await agentsStatus(settings);
  // A host without the agents role wants none of them here.
  const wanted = settings.roles.includes('agents') ? await wantedAgents(settings) : [];
  for (const agent of agents.agents) {
    if (wanted.includes(agent.name) && agent.state !== 'running' && agent.state !== 'standby') problems.push(`agent ${agent.name} is wanted but ${agent.state}${agent.detail ? ` (${agent.detail})` : ''}`);
  }
  if (wanted.length > 0 && agents.supervisor.state !== 'running') problems.push(`the agents' supervisor is ${agents.supervisor.state}`);
  const launcher = await launcherReport(settings, problems);

  const monitor = await readMonitorState(settings.logsDir);
  const circuits = Object.entries(monitor?.apps ?? {}).flatMap(([app, record]) =>
    record.circuit.state === 'open' ? [{ app, openedAt: record.circuit.openedAt, reason: record.circuit.reason }] : [],
  );
  for (const circuit of circuits) problems.push(`${circuit.app} was stopped for crash-looping (${circuit.reason}); bin/status --reset ${circuit.app}`);

  const out = await outOfRotation(settings.logsDir);
  const hosts = await seenHosts(settings, {
    name: settings.hostName,
    roles: settings.roles,
    release: web ? (build ?? null) : null,
    listen: web ? `${settings.host}:${settings.port}` : null,
    health: problems.length > 0 ? 'not healthy' : out ? 'out-of-rotation' : 'ok',
    by: `bin/status pid ${process.pid}`,
    updatedAt: new Date().toISOString(),
  });

  return {
    healthy: problems.length === 0,
    problems,
    versions: versions(settings, served),
    pm2: { home: pm2Home(), daemonPid },
    web: { app: settings.webAppName, url: localUrl(settings.host, settings.port, Boolean(settings.tls)), port: settings.port, expected, build, workers },
    agents,
    ...(launcher && { launcher }),
    circuits,
    host: { name: settings.hostName, roles: settings.roles, outOfRotation: out !== undefined },
    hosts,
  };
}

/** Refreshes this host's record (status runs on hosts without web workers too), then lists every record alive. */
async function seenHosts(settings: Settings, self: HostRecord): Promise<KitStatus['hosts']> {
  if (settings.eventsBackend !== 'redis') return { registry: 'this host only', list: [self] };
  // Workers keep their own record fresher than a command can: overwrite only where no worker writes it.
  const listed = await listHosts(settings);
  if (!listed) return { registry: 'redis unreachable', list: [self] };
  const mine = listed.find((host) => host.name === self.name);
  if (!mine || !mine.by.startsWith('web worker')) await registerHost(settings, self);
  return { registry: 'redis', list: mine ? listed : [...listed, self].sort((a, b) => a.name.localeCompare(b.name)) };
}

/** The launcher's own answer, when it has a status command; a failing one (or a bad agents.launcher) is a problem. */
async function launcherReport(settings: Settings, problems: string[]): Promise<LauncherStatus | undefined> {
  let launcher;
  try {
    launcher = readLauncher(settings);
  } catch (error) {
    if (!isKitError(error)) throw error;
    problems.push(error.message);
    return undefined;
  }
  if (launcher?.status === undefined) return undefined;
  const status = await launcherStatus(settings, launcher);
  if (!status.ok) problems.push(`the launcher's status command (${status.command}) failed: ${status.error}`);
  return status;
}

async function webWorkers(settings: Settings): Promise<WorkerStatus[]> {
  const procs = kitWorkers(await Pm2Client.using((client) => client.list()), settings);
  // New connections go round the workers: probe until every online one answered (or give up after a few seconds).
  const builds = new Map<number, HealthReport>();
  const online = procs.filter((proc) => proc.status === 'online').map((proc) => proc.pid);
  if (online.length > 0) {
    await pollUntil(
      async () => {
        const health = await fetchHealth({ host: settings.host, port: settings.port, path: settings.healthPath, secure: Boolean(settings.tls) }, 2000).catch(() => undefined);
        if (health) builds.set(health.pid, health);
        return online.every((pid) => builds.has(pid));
      },
      { timeoutMs: 3000, intervalMs: 20 },
    );
  }
  return procs.map((proc) => {
    const health = builds.get(proc.pid);
    const degraded = health?.status === 'degraded' ? { wanted: health.wanted ?? 'unknown', reason: health.reason ?? 'unknown' } : undefined;
    return { ...workerSnapshot(proc), build: health?.build, ...(degraded && { degraded }) };
  });
}

function versions(settings: Settings, served: BuildInfo | undefined): KitStatus['versions'] {
  const version = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  const site = createRequire(path.join(settings.siteRoot, 'package.json'));
  const installed = (resolve: () => string) => {
    try {
      return version(resolve());
    } catch {
      return undefined;
    }
  };
  return {
    kit: version(path.join(kitPackageRoot, 'package.json')),
    node: process.versions.node,
    pm2: installed(() => createRequire(path.join(kitPackageRoot, 'package.json')).resolve('pm2/package.json')) ?? 'unknown',
    // The Astro of the build that is served, as recorded when it was built; else the one installed for the site.
    astro: served?.astro ?? installed(() => site.resolve('astro/package.json')) ?? 'unknown',
  };
}
