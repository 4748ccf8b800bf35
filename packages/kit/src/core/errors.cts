/**
 * Every error the kit reports to a user, in one place: a stable code to search
 * for, a message that says what happened, and a hint that says what to do.
 */
export class KitError extends Error {
  override readonly name = 'KitError';

  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isKitError(error: unknown): error is KitError {
  return error instanceof KitError;
}

export const errors = {
  invalidSettings: (problems: string[]) =>
    new KitError(
      'KIT_INVALID_SETTINGS',
      `invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'Fix these values (an environment variable overrides the config file for one run); docs/config.md lists every setting with its default.',
    ),
  configInvalid: (file: string, problems: string[]) =>
    new KitError(
      'KIT_CONFIG_INVALID',
      `${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'Fix these fields; docs/config.md lists every field with its default (editors check the file against astro-cluster.schema.json).',
    ),
  nodeTooOld: (found: string, needed: string) =>
    new KitError('KIT_NODE_TOO_OLD', `Node ${found} is too old: the kit needs Node ${needed}.`, `Install Node.js ${needed} or later.`),
  dependenciesMissing: (what: string) =>
    new KitError('KIT_DEPENDENCIES_MISSING', `${what} is not installed.`, 'Run `pnpm install` at the project root.'),
  buildFailed: (what: string, detail: string) =>
    new KitError('KIT_BUILD_FAILED', `building ${what} failed:\n${detail}`, 'Fix the error above, then run the command again.'),
  buildMissing: (dir: string) =>
    new KitError('KIT_BUILD_MISSING', `there is no site build in ${dir}.`, 'Run ./bin/start-pm2 or astro-cluster deploy, which build the site into a release.'),
  notStandaloneBuild: (dir: string, why: string) =>
    new KitError(
      'KIT_NOT_STANDALONE',
      `${dir} is not an @astrojs/node standalone build: ${why}.`,
      "The kit serves builds of @astrojs/node in standalone mode: set `adapter: node({ mode: 'standalone' })` in the site's astro config.",
    ),
  notAstroProject: (root: string, why: string) =>
    new KitError('KIT_NOT_ASTRO_PROJECT', `no Astro site the kit can serve under ${root}: ${why}.`, 'Run init at the root of a pnpm repo whose Astro app (in apps/* or at the root) uses @astrojs/node in standalone mode.'),
  portInUse: (host: string, port: number, owner: string | undefined) =>
    new KitError(
      'KIT_PORT_IN_USE',
      `port ${port} on ${host} is already in use${owner ? ` by ${owner}` : ' by another program'}.`,
      `Stop that program, or start the kit on another port: PORT=<port> ./bin/start-pm2.`,
    ),
  pm2Unreachable: (home: string, cause: unknown) =>
    new KitError(
      'KIT_PM2_UNREACHABLE',
      `cannot talk to the PM2 daemon in ${home}: ${describe(cause)}`,
      'Check PM2_HOME and its permissions; `pnpm exec pm2 ls` shows whether the daemon answers.',
      { cause },
    ),
  pm2ActionFailed: (action: string, cause: unknown) =>
    new KitError('KIT_PM2_ACTION_FAILED', `pm2 ${action} failed: ${describe(cause)}`, undefined, { cause }),
  crashLoop: (app: string, restarts: number, logTail: string) =>
    new KitError(
      'KIT_CRASH_LOOP',
      `${app} keeps crashing while it starts (${restarts} restarts).${logTail ? `\nLast lines of its error log:\n${logTail}` : ''}`,
      'Fix the error in the log; the kit removed the app from PM2 so nothing half-started is left running.',
    ),
  startTimeout: (app: string, seconds: number, waitingFor: string, logTail: string) =>
    new KitError(
      'KIT_START_TIMEOUT',
      `${app} was not healthy after ${seconds} s: ${waitingFor}.${logTail ? `\nLast lines of its error log:\n${logTail}` : ''}`,
      'Look at the log above; START_TIMEOUT_MS gives workers more time on a slow machine.',
    ),
  canaryFailed: (detail: string) =>
    new KitError(
      'KIT_CANARY_FAILED',
      `the new build did not start in a trial worker, so the running workers were left alone:\n${detail}`,
      'Fix the error above and run the command again.',
    ),
  usage: (message: string, hint?: string) => new KitError('KIT_USAGE', message, hint),
  rootUnit: () =>
    new KitError(
      'KIT_STARTUP_AS_ROOT',
      'the boot unit would run the kit as root (User=root): the site, its agents and PM2 would all have root rights.',
      'Name the user that owns the project: bin/startup install --user-name NAME (run with sudo, the sudo user is taken); or, if root really is meant, add --allow-root.',
    ),
  releaseNotReady: (id: string, detail: string) =>
    new KitError(
      'KIT_RELEASE_NOT_READY',
      `release ${id} did not become ready, so the running release was left as it is:\n${detail}`,
      'Fix the error above and deploy again; the failed release was removed.',
    ),
  rolledBack: (id: string, previous: string, detail: string) =>
    new KitError(
      'KIT_DEPLOY_ROLLED_BACK',
      `release ${id} passed its trial but the cluster did not become healthy on it, so the kit switched back to ${previous}:\n${detail}`,
      'Look at the workers\' error log (pnpm exec pm2 logs) and deploy again.',
    ),
  noPreviousRelease: () =>
    new KitError('KIT_NO_PREVIOUS_RELEASE', 'there is no earlier release to roll back to.', 'astro-cluster deploy builds releases and keeps the last few (releases.keep).'),
  siteDirOverridden: (siteDir: string) =>
    new KitError(
      'KIT_SITE_DIR_OVERRIDDEN',
      `SITE_DIR is set to ${siteDir}: deploys make releases under releases.dir and serve them through its current link.`,
      'Unset SITE_DIR to deploy with bin/deploy.',
    ),
  unknownAgent: (name: string, known: string[]) =>
    new KitError('KIT_USAGE', `there is no agent named ${name}.`, `Known agents: ${known.join(', ')} (declared in the agents config).`),
  agentFailed: (name: string, why: string, logTail: string) =>
    new KitError(
      'KIT_AGENT_FAILED',
      `${why}${logTail ? `\nLast lines of its log:\n${logTail}` : ''}`,
      `\`mh logs ${name}\` shows its whole log; \`mh status\` its state.`,
    ),
  eventTooDeep: (limit: number) =>
    new KitError('KIT_EVENT_TOO_DEEP', `the event's data is nested more than ${limit} levels deep.`, 'Publish flatter data: the log stores JSON of at most this depth.'),
  eventLogDamaged: (file: string, problem: string, setAside: string) =>
    new KitError(
      'KIT_EVENT_LOG_DAMAGED',
      `the event segment ${file} is damaged (${problem}); it was set aside as ${setAside}.`,
      'Nothing to do for the kit: ids continue above the highest ever given, and readers in the damaged range get `event: reset`. Look at the set-aside file to recover what it held.',
    ),
  badTopic: (value: string) => new KitError('KIT_BAD_TOPIC', `${JSON.stringify(value)} is not a topic: use 1 to 64 of a-z, 0-9 and "-".`),
  schedulerConfigInvalid: (file: string, problem: string) =>
    new KitError('KIT_SCHEDULER_CONFIG_INVALID', `the scheduler config ${file} is invalid: ${problem}`, 'Fix the file; apps/agents/scheduler.json is an example.'),
  deployRunning: (lock: string) =>
    new KitError('KIT_DEPLOY_RUNNING', `another build or deploy of the site is running (${lock}).`, 'Wait for it to finish, then run the command again.'),
  agentsConfigInvalid: (file: string, problem: string) =>
    new KitError('KIT_AGENTS_CONFIG_INVALID', `the agents config ${file} is invalid: ${problem}`, 'Fix the file; docs/config.md shows an entry.'),
  lockUnusable: (lockPath: string, problem: string) =>
    new KitError(
      'KIT_LOCK_UNUSABLE',
      `the lock ${lockPath} cannot be used: ${problem}`,
      'If no agent of that name runs, remove that path and start again.',
    ),
  agentNotStopped: (name: string, pid: number, seconds: number) =>
    new KitError('KIT_AGENT_NOT_STOPPED', `${name} (pid ${pid}) was still running ${seconds} s after it was told to stop.`, 'Look at the process by hand (ps -p <pid>).'),
  siteNotStandalone: (site: string, why: string, hint?: string) =>
    new KitError(
      'KIT_NOT_STANDALONE',
      `the Astro app in ${site} cannot be served by the kit: ${why}.`,
      hint ?? "The kit serves @astrojs/node in standalone mode: `pnpm add @astrojs/node` in the app and set `adapter: node({ mode: 'standalone' })` in its astro config, then run init again.",
    ),
  siteAmbiguous: (candidates: string[]) =>
    new KitError('KIT_USAGE', `several Astro apps could be the site: ${candidates.join(', ')}.`, `Pick one with --site DIR (astro-cluster init --site ${candidates[0] ?? 'apps/web'}).`),
  agentsNotStarted: (failed: { name: string; why: string }[]) =>
    new KitError(
      'KIT_AGENTS_NOT_STARTED',
      `the web cluster runs, but these agents did not start:\n${failed.map((agent) => `  - ${agent.name}: ${agent.why}`).join('\n')}`,
      'Fix the cause shown above, then run the command again (it leaves what runs alone); `astro-cluster status` shows the state of each.',
    ),
  launcherFailed: (which: string, command: string, detail: string) =>
    new KitError(
      'KIT_LAUNCHER_FAILED',
      `the agents' launcher failed to ${which} (${command}):\n${detail}`,
      'Run that command by hand in the project root to see why; agents.launcher in astro-cluster.config.json names it.',
    ),
  tlsUnreadable: (what: string, file: string, cause: unknown) =>
    new KitError(
      'KIT_TLS_UNREADABLE',
      `cannot serve HTTPS: the ${what} ${file} cannot be used: ${describe(cause)}`,
      'Point SERVER_CERT_PATH and SERVER_KEY_PATH at a readable PEM certificate and its key, or unset both to serve plain HTTP behind a proxy.',
      { cause },
    ),
  // Several hosts (docs/multi-host.md).
  hostStepFailed: (host: string, step: string, detail: string, done: string) =>
    new KitError(
      'KIT_HOST_STEP_FAILED',
      `host ${host} failed to ${step}:\n${detail}`,
      `${done} Fix the cause on ${host}; then finish with \`astro-cluster deploy --release ID\` on each host not done, or take the done ones back with \`--release\` and their previous release (docs/multi-host.md).`,
    ),
  hostUnhealthy: (host: string, url: string, detail: string) =>
    new KitError(
      'KIT_HOST_UNHEALTHY',
      `host ${host} does not answer healthy at ${url}: ${detail}`,
      'Check it with `bin/status` on that host; until it answers, the proxy sends its traffic to the other hosts.',
    ),
  noProxyHosts: () =>
    new KitError('KIT_NO_PROXY_HOSTS', 'no host with the web role is listed in astro-cluster.config.json `hosts`.', 'List each host (name, url) in `hosts`: docs/multi-host.md shows one.'),
} as const;

/** A thrown value for a log: its stack when it has one. */
export function stackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** One line for an unknown thrown value. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
