export interface UnitOptions {
  /** Unit name without `.service`. */
  name: string;
  mode: 'system' | 'user';
  kitRoot: string;
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
 * in it is stable: the kit's own bin/startup (not a versioned path inside
 * node_modules/.pnpm), the Node binary itself, and a PATH fixed to its
 * folder and the system's, not whatever PATH the installing shell had.
 */
export function renderUnit(options: UnitOptions): string {
  const bin = `${options.kitRoot}/bin/startup`;
  const nodeDir = options.node.slice(0, options.node.lastIndexOf('/'));
  const path = [...new Set([nodeDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])].join(':');
  const system = options.mode === 'system';
  return `# Written by bin/startup install; bin/startup uninstall removes it.
[Unit]
Description=Astro cluster kit in ${options.kitRoot}: web cluster under PM2, agents under bin/mh
Documentation=file://${options.kitRoot}/README.md
After=network-online.target
Wants=network-online.target

[Service]
# bin/startup boot starts the PM2 daemon (pm2 resurrect: the apps saved by
# start-pm2/stop-pm2) and the agents desired.json wants, waits until they are
# healthy, then exits; the daemon is the main process.
Type=forking
PIDFile=${options.pm2Home}/pm2.pid
${system ? `User=${options.user}\n` : ''}WorkingDirectory=${options.kitRoot}
Environment=PATH=${path}
Environment=NODE=${options.node}
Environment=PM2_HOME=${options.pm2Home}
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
