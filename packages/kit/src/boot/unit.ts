export interface UnitOptions {
  /** Unit name without `.service`. */
  name: string;
  mode: 'system' | 'user';
  /** The project's root (where astro-cluster.config.json is). */
  root: string;
  /** The Node binary, by a path outside node_modules (process.execPath, resolved). */
  node: string;
  /** The account that runs the kit (system units only). */
  user: string;
  pm2Home: string;
  /** The kit's settings (mode 600: it may hold EVENTS_TOKEN or REDIS_URL credentials). */
  environmentFile: string;
}

/**
 * The systemd unit, as text. Unlike the one `pm2 startup` writes, every path
 * in it is stable: the project's node_modules/.bin/astro-cluster (not a
 * versioned path inside node_modules/.pnpm), the Node binary itself, and a PATH fixed to its
 * folder and the system's, not whatever PATH the installing shell had.
 */
export function renderUnit(options: UnitOptions): string {
  const bin = `${options.root}/node_modules/.bin/astro-cluster startup`;
  const nodeDir = options.node.slice(0, options.node.lastIndexOf('/'));
  const path = [...new Set([nodeDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])].join(':');
  const system = options.mode === 'system';
  return `# Written by astro-cluster startup install; astro-cluster startup uninstall removes it.
[Unit]
Description=Astro cluster kit in ${options.root}: web cluster under PM2, singleton agents beside it
Documentation=file://${options.root}/README.md
After=network-online.target
Wants=network-online.target

[Service]
# astro-cluster startup boot starts the PM2 daemon (pm2 resurrect: the apps saved by
# start-pm2/stop-pm2) and the agents desired.json wants, waits until they are
# healthy, then exits; the daemon is the main process.
Type=forking
PIDFile=${options.pm2Home}/pm2.pid
${system ? `User=${options.user}\n` : ''}WorkingDirectory=${options.root}
Environment=PATH=${path}
Environment=NODE=${options.node}
Environment=PM2_HOME=${options.pm2Home}
Environment=ASTRO_CLUSTER_ROOT=${options.root}
EnvironmentFile=${options.environmentFile}
ExecStart=${bin} boot
# Stops the agents (still wanted at the next boot); then systemd sends SIGTERM
# to the PM2 daemon alone (KillMode=mixed), which saves its list and stops
# the workers, each draining before it exits.
ExecStop=${bin} halt
KillMode=mixed
TimeoutStartSec=180
TimeoutStopSec=90
Restart=on-failure
RestartSec=5
# Every open event stream is a file descriptor.
LimitNOFILE=65536

[Install]
WantedBy=${system ? 'multi-user.target' : 'default.target'}
`;
}
