import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readConfigFile } from './config-file.cjs';
import { errors } from './errors.cjs';
import { configFileName, projectRoot } from './paths.cjs';
import { withSecrets } from './secrets.cjs';

/**
 * Every setting the kit reads, read in this one file, each with its default
 * beside it: the environment variable, else the field of
 * astro-cluster.config.json, else the default. Values are validated all at
 * once so a user sees every mistake in one message.
 */
export interface Settings {
  /** The project's root: ASTRO_CLUSTER_ROOT, or the folder holding astro-cluster.config.json. */
  root: string;
  /** astro-cluster.config.json, when the project has one. */
  configFile: string | undefined;
  /** site.dir / SITE_ROOT: the Astro app's folder (its package.json and astro.config.*). */
  siteRoot: string;
  /** site.build / SITE_BUILD: the shell command that builds the site into site.outDir; undefined: the site's own `build` script. */
  siteBuild: string | undefined;
  /** site.outDir / SITE_OUT_DIR: where that build writes (Astro's outDir). The kit copies it into a release; it never serves from it. */
  siteOutDir: string;
  /** site.inputs: what counts as a source change; undefined: the site's folder and the workspace packages it depends on. */
  siteInputs: string[] | undefined;
  /** releases.dir / RELEASES_DIR: one folder per build, kept by the kit. */
  releasesDir: string;
  /** A symlink to the current release, beside the releases: SITE_DIR's default. */
  currentLink: string;
  /** web.hosts / SITE_HOSTS: Host names the worker answers to; any other Host gets 421 before the site runs. `*` allows any. */
  siteHosts: string[];
  /** OPERATOR_PASSWORD: the password of the operator sign-in; unset, operator pages accept only EVENTS_TOKEN. Environment only: a secret stays out of the config file. */
  operatorPassword: string | undefined;
  /** web.healthPath / HEALTH_PATH: the one path the kit's server answers itself. */
  healthPath: string;
  /** WEB_APP_NAME: the PM2 app name of the web cluster. */
  webAppName: string;
  /** HOST: address the site binds. Loopback by default: put a proxy in front. */
  host: string;
  /** PORT: the site's port. */
  port: number;
  /** WEB_INSTANCES: cluster workers, `max` for one per core. */
  webInstances: number | 'max';
  /** NODE_ENV passed to the workers. */
  nodeEnv: string;
  /** LOGS_DIR: everything a run writes (logs, locks, events, pids, bench results). */
  logsDir: string;
  /** SITE_DIR: the Astro build the workers serve (holds server/entry.mjs and client/). */
  siteDir: string;
  /**
   * Whether a worker that cannot load SITE_DIR serves the last release that
   * served instead (degraded). ASTRO_CLUSTER_NO_FALLBACK=1 turns it off: trial
   * workers set it, since a trial must fail when the new build is broken.
   */
  siteFallback: boolean;
  /** DRAIN_TIMEOUT_MS: how long a stopping worker may take to finish its requests. */
  drainTimeoutMs: number;
  /** START_TIMEOUT_MS: how long a starting worker may take to import the build and listen. */
  startTimeoutMs: number;
  /** KEEP_ALIVE_TIMEOUT_MS: idle keep-alive sockets are closed after this. */
  keepAliveTimeoutMs: number;
  /** WEB_MAX_MEMORY: PM2 restarts a worker above this resident size (e.g. 512M). */
  webMaxMemory: string;
  /** agents.locksDir / AGENTS_LOCKS_DIR: the kit's agent locks; a folder no other tool writes (default LOGS_DIR/run/kit-locks). */
  agentsLocksDir: string;
  /** The kit's agent state (wanted agents, the supervisor's record, checkpoints): LOGS_DIR/run/kit-state. */
  agentsStateDir: string;
  /** agents.launcher of the config file, as written: an existing launcher kept as the launcher (agents/launcher.ts checks it). */
  agentsLauncher: unknown;
  /** LOCK_STALE_MS: a lock not refreshed for this long is taken over (its holder is frozen or gone). */
  lockStaleMs: number;
  /** agents.leaseMs / LOCK_LEASE_MS: with EVENTS_BACKEND=redis, an agent's cluster-wide Redis lease expires this long after its last refresh: another host takes over within it. */
  lockLeaseMs: number;
  /** TASK_CLAIM_IDLE_MS: with Redis, a task whose runner has not touched it for this long (it died or froze) is claimed again (XAUTOCLAIM). */
  taskClaimIdleMs: number;
  /** AGENTS_CONFIG: a JSON file `{ "agents": [ … ] }` of the agents bin/mh knows; default: agents.list of the config file. */
  agentsConfig: string;
  /** SCHEDULER_CONFIG: the scheduler-service's jobs and their intervals. */
  schedulerConfig: string;
  /** AUDIO_INBOX: where the audio-organizer picks up new files. */
  audioInbox: string;
  /** AUDIO_LIBRARY: where it files them, in a YYYY/MM/DD tree. */
  audioLibrary: string;
  /** AUDIO_SETTLE_MS: a file must stay unchanged this long before it is moved (it may still be being written). */
  audioSettleMs: number;
  /** EVENTS_BACKEND: `file` (embedded, under LOGS_DIR/run/events) or `redis` (Redis Streams at REDIS_URL, for several hosts). */
  eventsBackend: 'file' | 'redis';
  /** REDIS_URL: redis://host:port[/db]; also moves sessions to Redis. A secret: kept in LOGS_DIR/run/secrets.json, never in PM2's env. */
  redisUrl: string | undefined;
  /** EVENTS_TOKEN: the bearer token for publishing; generated into LOGS_DIR/run/events.token when unset. A secret, like REDIS_URL. */
  eventsToken: string | undefined;
  /** EVENTS_RETENTION_COUNT: events kept per topic, at least. */
  eventsRetentionCount: number;
  /** EVENTS_MAX_AGE_MS: events older than this are dropped. */
  eventsMaxAgeMs: number;
  /** SSE_HEARTBEAT_MS: a comment on every idle event stream this often, so proxies keep it open. */
  sseHeartbeatMs: number;
  /** SSE_RETRY_MS: the reconnect delay an event stream asks browsers for. */
  sseRetryMs: number;
  /** TASK_STEP_MS: the pace of the demo task's progress events. */
  taskStepMs: number;
  /** releases.keep / RELEASES_KEEP: site releases kept on disk (old workers and old pages still use them). */
  releasesKeep: number;
  /** MONITOR_APPS: PM2 apps whose crash loops the pm2-monitor agent stops (comma-separated; `*` for all). Default: the web app. */
  monitorApps: string[];
  /** MONITOR_CRASH_LIMIT: abnormal exits within the window that open an app's circuit. */
  monitorCrashLimit: number;
  /** MONITOR_CRASH_WINDOW_MS: the window those exits are counted in. */
  monitorCrashWindowMs: number;
  /** MONITOR_SNAPSHOT_MS: how often the monitor publishes the workers' state on the `ops` topic. */
  monitorSnapshotMs: number;
  /** MONITOR_PING_MS: how often the watchdog pings each online web worker (and how long it waits for the answer). */
  monitorPingMs: number;
  /** MONITOR_PING_MISSES: unanswered pings in a row after which the watchdog reloads that worker. */
  monitorPingMisses: number;
  /** web.maxConnections / MAX_CONNECTIONS: open connections per worker; undefined: the worker's open-file limit less 256 (see connectionCaps). */
  maxConnections: number | undefined;
  /** web.maxStreams / MAX_STREAMS: event streams per worker; undefined: 90% of the connection cap. */
  maxStreams: number | undefined;
  /** web.maxStreamsPerClient / MAX_STREAMS_PER_CLIENT: event streams per client address per worker (X-Forwarded-For counts only from web.trustedProxies). */
  maxStreamsPerClient: number;
  /** web.headersTimeoutMs / HEADERS_TIMEOUT_MS: a request whose headers are not complete by then is cut (408). */
  headersTimeoutMs: number;
  /** web.requestTimeoutMs / REQUEST_TIMEOUT_MS: a request not received whole (headers and body) by then is cut; responses, streams included, are not limited. */
  requestTimeoutMs: number;
  /** SERVER_CERT_PATH and SERVER_KEY_PATH (as @astrojs/node reads them): the worker serves HTTPS with this certificate and key. */
  tls: { certPath: string; keyPath: string } | undefined;
  /** METRICS: `off` leaves the kit's metrics out of this process (no route, socket, port or points): trial workers run so. Environment only. */
  metricsEnabled: boolean;
  /** metrics.path / METRICS_PATH: the kit's Prometheus route on the site's port (operators: the events token as Bearer, or an operator session through the site). */
  metricsPath: string;
  /** metrics.port / METRICS_PORT: also serve the metrics without auth on 127.0.0.1 at this port; undefined: not at all. */
  metricsPort: number | undefined;
  /** metrics.sampleMs / METRICS_SAMPLE_MS: how often each worker publishes a point for /ops on the `metrics` topic; 0: never. */
  metricsSampleMs: number;
  // Several hosts (docs/multi-host.md).
  /** roles / ASTRO_CLUSTER_ROLES: what this host runs, `web` (the PM2 cluster), `agents` (the singleton agents), or both (the default). */
  roles: HostRole[];
  /** hostName / ASTRO_CLUSTER_HOST_NAME: this host's name among several (bin/status, the host registry in Redis); default the machine's host name. */
  hostName: string;
  /** HOST_TTL_S: a host record in Redis (hosts/registry.ts) lives this long after its last refresh, refreshed every third of it. */
  hostTtlS: number;
  /** web.trustedProxies / TRUSTED_PROXIES: addresses or CIDRs whose X-Forwarded-For and -Proto are believed; `loopback` (the default) is 127.0.0.0/8 and ::1, `none` trusts nobody. */
  trustedProxies: string[];
  /** hosts of the config file, as written (hosts/host-list.ts checks it): every host of the site, for `deploy --hosts` and `proxy nginx`. */
  hostList: unknown;
  /** proxy.listen / PROXY_LISTEN: what the generated nginx server listens on (`80`, `127.0.0.1:8080`). */
  proxyListen: string;
  /** proxy.serverName / PROXY_SERVER_NAME: the generated server's server_name (`_`: any). */
  proxyServerName: string;
  /** proxy.failTimeoutS / PROXY_FAIL_TIMEOUT_S: nginx takes a host out for this long after a failed attempt (its passive health check). */
  proxyFailTimeoutS: number;
  /** proxy.drainMs / PROXY_DRAIN_MS: how long a host out of rotation waits before it reloads, so a proxy with active checks sees its health path fail first. */
  proxyDrainMs: number;
}

/** What a host may run: the web cluster, the agents. */
export type HostRole = 'web' | 'agents';
export const hostRoles: readonly HostRole[] = ['web', 'agents'];

type Env = Record<string, string | undefined>;

/** What PM2 app names the kit accepts (web.name, MONITOR_APPS): init checks --name against it too. */
export const appNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
type Parse<T> = (raw: string) => T | { invalid: string };

/** Every variable readSettings reads (filled as it reads them). */
const names = new Set<string>();

export function readSettings(given: Env = process.env, cwd: string = process.cwd()): Settings {
  let env = given;
  const root = projectRoot(env, cwd);
  const config = readConfigFile(root);
  const problems: string[] = [];
  /** `name` from the environment, else `field` from the config file, else `fallback`. Config paths are relative to the root. */
  function read<T>(name: string, field: string | undefined, fallback: string, parse: Parse<T>): T {
    names.add(name);
    const fromEnv = env[name]?.trim();
    const fromFile = field ? config?.values.get(field) : undefined;
    const raw = fromEnv || (typeof fromFile === 'string' ? fromFile.trim() : Array.isArray(fromFile) ? fromFile.join(',') : '') || fallback;
    const value = parse(raw);
    if (isInvalid(value)) {
      problems.push(`${fromEnv ? name : `${configFileName} ${field}`}=${JSON.stringify(raw)}: ${value.invalid}`);
      return parse(fallback) as T;
    }
    return value;
  }
  const inRoot = (raw: string) => path.resolve(root, raw);

  const logsDir = read('LOGS_DIR', 'logsDir', path.join(root, 'logs'), inRoot);
  // Secrets not in the environment come from LOGS_DIR/run/secrets.json (core/secrets.cts: PM2 must never hold them).
  env = withSecrets(env, logsDir);
  const siteRoot = read('SITE_ROOT', 'site.dir', root, inRoot);
  const releasesDir = read('RELEASES_DIR', 'releases.dir', path.join(root, '.astro-cluster', 'releases'), inRoot);
  const currentLink = path.join(path.dirname(releasesDir), 'current');
  const inputs = config?.values.get('site.inputs');
  const settings: Settings = {
    root,
    configFile: config?.file,
    siteRoot,
    siteBuild: read('SITE_BUILD', 'site.build', '', (raw) => raw || undefined),
    siteOutDir: read('SITE_OUT_DIR', 'site.outDir', 'dist', (raw) => path.resolve(siteRoot, raw)),
    siteInputs: Array.isArray(inputs) ? inputs.map(inRoot) : undefined,
    releasesDir,
    currentLink,
    healthPath: read('HEALTH_PATH', 'web.healthPath', '/healthz', matching(/^\/[A-Za-z0-9._~\/-]{0,200}$/, 'a path such as /healthz')),
    webAppName: read('WEB_APP_NAME', 'web.name', 'astro-web', matching(appNamePattern, 'letters, digits, ".", "_" or "-", at most 64')),
    host: read('HOST', 'web.host', '127.0.0.1', hostname),
    siteHosts: read('SITE_HOSTS', 'web.hosts', 'localhost,127.0.0.1,[::1]', hostList),
    operatorPassword: read('OPERATOR_PASSWORD', undefined, '', (raw) => (raw === '' ? undefined : raw.length >= 12 ? raw : { invalid: 'expected at least 12 characters' })),
    port: read('PORT', 'web.port', '4321', integer(1, 65535)),
    webInstances: read('WEB_INSTANCES', 'web.instances', 'max', instances),
    nodeEnv: read('NODE_ENV', undefined, 'production', matching(/^[a-z]+$/, 'a lower-case word such as production')),
    logsDir,
    siteDir: read('SITE_DIR', undefined, currentLink, inRoot),
    siteFallback: read('ASTRO_CLUSTER_NO_FALLBACK', undefined, '0', oneOf(['0', '1'] as const)) === '0',
    drainTimeoutMs: read('DRAIN_TIMEOUT_MS', 'web.drainTimeoutMs', '5000', integer(100, 120_000)),
    startTimeoutMs: read('START_TIMEOUT_MS', 'web.startTimeoutMs', '15000', integer(1000, 300_000)),
    keepAliveTimeoutMs: read('KEEP_ALIVE_TIMEOUT_MS', undefined, '5000', integer(100, 600_000)),
    webMaxMemory: read('WEB_MAX_MEMORY', 'web.maxMemory', '512M', matching(/^[1-9]\d*[KMG]$/, 'a size such as 512M or 2G')),
    agentsLocksDir: read('AGENTS_LOCKS_DIR', 'agents.locksDir', path.join(logsDir, 'run', 'kit-locks'), inRoot),
    agentsStateDir: path.join(logsDir, 'run', 'kit-state'),
    agentsLauncher: config?.launcher,
    lockStaleMs: read('LOCK_STALE_MS', 'agents.lockStaleMs', '10000', integer(4000, 120_000)),
    // Cluster-wide singletons (agents/redis-lease.ts; the holder is named by hostName): the lease, and when a dead runner's task is claimed again.
    lockLeaseMs: read('LOCK_LEASE_MS', 'agents.leaseMs', '10000', integer(1000, 120_000)),
    taskClaimIdleMs: read('TASK_CLAIM_IDLE_MS', undefined, '30000', integer(1000, 3_600_000)),
    agentsConfig: read('AGENTS_CONFIG', undefined, config?.file ?? path.join(root, configFileName), inRoot),
    schedulerConfig: read('SCHEDULER_CONFIG', undefined, path.join(root, 'apps', 'agents', 'scheduler.json'), inRoot),
    audioInbox: '',
    audioLibrary: '',
    audioSettleMs: read('AUDIO_SETTLE_MS', undefined, '2000', integer(0, 600_000)),
    eventsBackend: read('EVENTS_BACKEND', 'events.backend', 'file', oneOf(['file', 'redis'] as const)),
    redisUrl: read('REDIS_URL', 'events.redisUrl', '', (raw) => (raw === '' ? undefined : redisUrl(raw))),
    eventsToken: read('EVENTS_TOKEN', undefined, '', (raw) => (raw === '' ? undefined : raw.length >= 16 ? raw : { invalid: 'expected at least 16 characters' })),
    eventsRetentionCount: read('EVENTS_RETENTION_COUNT', undefined, '10000', integer(100, 10_000_000)),
    eventsMaxAgeMs: read('EVENTS_MAX_AGE_MS', undefined, String(7 * 86_400_000), integer(1000, 365 * 86_400_000)),
    sseHeartbeatMs: read('SSE_HEARTBEAT_MS', undefined, '15000', integer(100, 15_000)),
    sseRetryMs: read('SSE_RETRY_MS', undefined, '2000', integer(100, 60_000)),
    taskStepMs: read('TASK_STEP_MS', undefined, '150', integer(0, 10_000)),
    releasesKeep: read('RELEASES_KEEP', 'releases.keep', '5', integer(2, 100)),
    monitorApps: [],
    monitorCrashLimit: read('MONITOR_CRASH_LIMIT', undefined, '5', integer(2, 1000)),
    monitorCrashWindowMs: read('MONITOR_CRASH_WINDOW_MS', undefined, '60000', integer(1000, 86_400_000)),
    monitorSnapshotMs: read('MONITOR_SNAPSHOT_MS', undefined, '5000', integer(200, 600_000)),
    monitorPingMs: read('MONITOR_PING_MS', undefined, '2000', integer(200, 60_000)),
    monitorPingMisses: read('MONITOR_PING_MISSES', undefined, '3', integer(1, 100)),
    maxConnections: read('MAX_CONNECTIONS', 'web.maxConnections', '', optional(integer(16, 10_000_000))),
    maxStreams: read('MAX_STREAMS', 'web.maxStreams', '', optional(integer(1, 10_000_000))),
    maxStreamsPerClient: read('MAX_STREAMS_PER_CLIENT', 'web.maxStreamsPerClient', '64', integer(1, 10_000_000)),
    headersTimeoutMs: read('HEADERS_TIMEOUT_MS', 'web.headersTimeoutMs', '10000', integer(500, 600_000)),
    requestTimeoutMs: read('REQUEST_TIMEOUT_MS', 'web.requestTimeoutMs', '30000', integer(500, 3_600_000)),
    tls: undefined,
    metricsEnabled: read('METRICS', undefined, 'on', oneOf(['on', 'off'] as const)) === 'on',
    metricsPath: read('METRICS_PATH', 'metrics.path', '/metrics', matching(/^\/[A-Za-z0-9._~\/-]{0,200}$/, 'a path such as /metrics')),
    metricsPort: read('METRICS_PORT', 'metrics.port', '', optional(integer(1, 65535))),
    metricsSampleMs: read('METRICS_SAMPLE_MS', 'metrics.sampleMs', '5000', (raw) => (raw === '0' ? 0 : integer(500, 60_000)(raw))),
    roles: read('ASTRO_CLUSTER_ROLES', 'roles', 'web,agents', roleList),
    hostName: read('ASTRO_CLUSTER_HOST_NAME', 'hostName', os.hostname() || 'localhost', matching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64')),
    hostTtlS: read('HOST_TTL_S', undefined, '30', integer(3, 3600)),
    trustedProxies: read('TRUSTED_PROXIES', 'web.trustedProxies', 'loopback', addressList),
    hostList: config?.hosts,
    proxyListen: read('PROXY_LISTEN', 'proxy.listen', '80', matching(/^(\[[0-9a-fA-F:.]+\]:|[A-Za-z0-9.-]+:)?\d{1,5}$/, 'a port, or address:port (`80`, `127.0.0.1:8080`, `[::]:80`)')),
    proxyServerName: read('PROXY_SERVER_NAME', 'proxy.serverName', '_', matching(/^[A-Za-z0-9_*.-]+( [A-Za-z0-9_*.-]+)*$/, 'server names separated by spaces, or _')),
    proxyFailTimeoutS: read('PROXY_FAIL_TIMEOUT_S', 'proxy.failTimeoutS', '5', integer(1, 600)),
    proxyDrainMs: read('PROXY_DRAIN_MS', 'proxy.drainMs', '0', integer(0, 600_000)),
  };
  if (settings.metricsPath === settings.healthPath) problems.push(`METRICS_PATH=${JSON.stringify(settings.metricsPath)}: must differ from HEALTH_PATH`);
  if (settings.metricsPort !== undefined && settings.metricsPort === settings.port) problems.push(`METRICS_PORT=${settings.metricsPort}: must differ from PORT`);
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) problems.push(`HEADERS_TIMEOUT_MS=${settings.headersTimeoutMs}: must not exceed REQUEST_TIMEOUT_MS=${settings.requestTimeoutMs} (Node refuses it)`);
  if (settings.maxConnections !== undefined && settings.maxStreams !== undefined && settings.maxStreams > settings.maxConnections)
    problems.push(`MAX_STREAMS=${settings.maxStreams}: must not exceed MAX_CONNECTIONS=${settings.maxConnections}`);
  const certPath = read('SERVER_CERT_PATH', undefined, '', (raw) => (raw === '' ? undefined : inRoot(raw)));
  const keyPath = read('SERVER_KEY_PATH', undefined, '', (raw) => (raw === '' ? undefined : inRoot(raw)));
  if (certPath && keyPath) settings.tls = { certPath, keyPath };
  else if (certPath || keyPath) problems.push(`${certPath ? 'SERVER_CERT_PATH' : 'SERVER_KEY_PATH'} is set without ${certPath ? 'SERVER_KEY_PATH' : 'SERVER_CERT_PATH'}: set both to serve HTTPS, or neither`);
  if (settings.eventsBackend === 'redis' && !settings.redisUrl) problems.push('EVENTS_BACKEND="redis": REDIS_URL must be set too');
  settings.monitorApps = read('MONITOR_APPS', undefined, settings.webAppName, (raw) => {
    const apps = raw.split(',').map((app) => app.trim()).filter(Boolean);
    return apps.length > 0 && apps.every((app) => app === '*' || appNamePattern.test(app)) ? apps : { invalid: 'expected PM2 app names separated by commas, or *' };
  });
  // Defaults that live under LOGS_DIR, once LOGS_DIR is known.
  settings.audioInbox = read('AUDIO_INBOX', undefined, path.join(settings.logsDir, 'audio', 'inbox'), inRoot);
  settings.audioLibrary = read('AUDIO_LIBRARY', undefined, path.join(settings.logsDir, 'audio', 'library'), inRoot);
  if (problems.length > 0) throw errors.invalidSettings(problems);
  return settings;
}

/** The kit's settings that are set in `env`, as given: what a boot unit must pass on. */
export function explicitSettings(env: Env = process.env): Record<string, string> {
  if (names.size === 0) readSettings({});
  return Object.fromEntries([...names].filter((name) => env[name]?.trim()).map((name) => [name, env[name]!.trim()]));
}

/** The environment a web worker needs, as strings, for PM2 and for trial workers. */
export function workerEnv(settings: Settings): Record<string, string> {
  return {
    ASTRO_CLUSTER_ROOT: settings.root,
    HEALTH_PATH: settings.healthPath,
    NODE_ENV: settings.nodeEnv,
    HOST: settings.host,
    SITE_HOSTS: settings.siteHosts.join(','),
    PORT: String(settings.port),
    LOGS_DIR: settings.logsDir,
    SITE_DIR: settings.siteDir,
    DRAIN_TIMEOUT_MS: String(settings.drainTimeoutMs),
    KEEP_ALIVE_TIMEOUT_MS: String(settings.keepAliveTimeoutMs),
    // Pages show the agents' state, read from their locks.
    LOCK_STALE_MS: String(settings.lockStaleMs),
    AGENTS_CONFIG: settings.agentsConfig,
    EVENTS_BACKEND: settings.eventsBackend,
    // No EVENTS_TOKEN nor REDIS_URL: PM2 saves this env in dump.pm2; workers read them from LOGS_DIR/run/secrets.json.
    EVENTS_RETENTION_COUNT: String(settings.eventsRetentionCount),
    EVENTS_MAX_AGE_MS: String(settings.eventsMaxAgeMs),
    SSE_HEARTBEAT_MS: String(settings.sseHeartbeatMs),
    SSE_RETRY_MS: String(settings.sseRetryMs),
    MAX_STREAMS_PER_CLIENT: String(settings.maxStreamsPerClient),
    HEADERS_TIMEOUT_MS: String(settings.headersTimeoutMs),
    REQUEST_TIMEOUT_MS: String(settings.requestTimeoutMs),
    // Unset, each worker derives them from its own open-file limit, which may differ from the caller's.
    ...(settings.maxConnections !== undefined && { MAX_CONNECTIONS: String(settings.maxConnections) }),
    ...(settings.maxStreams !== undefined && { MAX_STREAMS: String(settings.maxStreams) }),
    ...(settings.tls && { SERVER_CERT_PATH: settings.tls.certPath, SERVER_KEY_PATH: settings.tls.keyPath }),
    // Metrics (metrics/): the route, the optional loopback port, the /ops sampler's pace.
    METRICS_PATH: settings.metricsPath,
    METRICS_SAMPLE_MS: String(settings.metricsSampleMs),
    ...(settings.metricsPort !== undefined && { METRICS_PORT: String(settings.metricsPort) }),
    // Several hosts: who this host is (the host registry) and whose forwarded headers the workers believe.
    ASTRO_CLUSTER_HOST_NAME: settings.hostName,
    ASTRO_CLUSTER_ROLES: settings.roles.join(','),
    HOST_TTL_S: String(settings.hostTtlS),
    TRUSTED_PROXIES: settings.trustedProxies.join(','),
  };
}

/** Room kept below the open-file limit for files, the event log and the cluster's accept hand-off (a worker out of descriptors can no longer receive connections from the PM2 daemon, for good). */
export const reservedFiles = 256;

export interface ConnectionCaps {
  maxConnections: number;
  maxStreams: number;
  maxStreamsPerClient: number;
}

/** The caps a worker applies: those set, else derived from this process's soft open-file limit. */
export function connectionCaps(settings: Settings, openFiles: number | undefined = openFileLimit()): ConnectionCaps {
  const maxConnections = settings.maxConnections ?? Math.max(16, (openFiles ?? 20_000) - reservedFiles);
  // A few connections stay free of streams, so pages and /healthz still answer on a worker full of streams.
  const maxStreams = Math.min(settings.maxStreams ?? Math.max(1, Math.floor(maxConnections * 0.9)), maxConnections);
  return { maxConnections, maxStreams, maxStreamsPerClient: settings.maxStreamsPerClient };
}

/** The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits; undefined when unknown or unlimited. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

function isInvalid<T>(value: T | { invalid: string }): value is { invalid: string } {
  return typeof value === 'object' && value !== null && 'invalid' in value;
}

function integer(min: number, max: number): Parse<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw)) return { invalid: `expected a whole number from ${min} to ${max}` };
    const value = Number(raw);
    return value >= min && value <= max ? value : { invalid: `expected a whole number from ${min} to ${max}` };
  };
}

function optional<T>(parse: Parse<T>): Parse<T | undefined> {
  return (raw) => (raw === '' ? undefined : parse(raw));
}

function instances(raw: string): number | 'max' | { invalid: string } {
  if (raw === 'max') return 'max';
  const count = integer(1, 256)(raw);
  return typeof count === 'number' ? count : { invalid: 'expected "max" or a whole number from 1 to 256' };
}

function oneOf<T extends string>(choices: readonly T[]): Parse<T> {
  return (raw) => ((choices as readonly string[]).includes(raw) ? (raw as T) : { invalid: `expected one of ${choices.join(', ')}` });
}

function redisUrl(raw: string): string | { invalid: string } {
  try {
    const url = new URL(raw);
    if (url.protocol === 'redis:' || url.protocol === 'rediss:') return raw;
  } catch {
    // Reported below.
  }
  return { invalid: 'expected a URL such as redis://127.0.0.1:6379' };
}

function matching(pattern: RegExp, expected: string): Parse<string> {
  return (raw) => (pattern.test(raw) ? raw : { invalid: `expected ${expected}` });
}

/** A comma-separated list of host names or IP addresses (IPv6 in brackets), or `*` for any Host. */
function hostList(raw: string): string[] | { invalid: string } {
  const hosts = raw.split(',').map((host) => host.trim().toLowerCase()).filter(Boolean);
  const valid = (host: string) => host === '*' || (/^\[[0-9a-f:.]+\]$/.test(host) && net.isIPv6(host.slice(1, -1))) || typeof hostname(host) === 'string';
  return hosts.length > 0 && hosts.every(valid) ? hosts : { invalid: 'expected host names separated by commas (IPv6 in brackets), or *' };
}

/** `web`, `agents`, or both, comma-separated. */
function roleList(raw: string): HostRole[] | { invalid: string } {
  const roles = [...new Set(raw.split(',').map((role) => role.trim().toLowerCase()).filter(Boolean))];
  return roles.length > 0 && roles.every((role) => (hostRoles as readonly string[]).includes(role)) ? (roles as HostRole[]) : { invalid: 'expected web, agents, or both (comma-separated)' };
}

/** Proxies' addresses or CIDRs, comma-separated; `loopback` and `none` as words. Kept as written (server/client-address.ts matches them). */
function addressList(raw: string): string[] | { invalid: string } {
  const entries = raw.split(',').map((entry) => entry.trim().toLowerCase()).filter(Boolean);
  if (entries.length === 1 && entries[0] === 'none') return [];
  const valid = (entry: string) => {
    if (entry === 'loopback') return true;
    const [address, bits, extra] = entry.split('/');
    const family = net.isIP(address ?? '');
    if (family === 0 || extra !== undefined) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  };
  return entries.length > 0 && entries.every(valid) ? entries : { invalid: 'expected IP addresses or CIDRs (10.0.0.0/8) separated by commas, `loopback`, or `none`' };
}

function hostname(raw: string): string | { invalid: string } {
  if (net.isIP(raw) !== 0) return raw;
  return /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(raw)
    ? raw
    : { invalid: 'expected an IP address or a host name' };
}
