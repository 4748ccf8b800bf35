import { readSettings, type Settings } from '../../core/index.cjs';
import { Pm2Client } from '../../cluster/index.js';
import { kitStatus, readMonitorState, requestReset, type KitStatus } from '../../monitor/index.js';
import { agentsStatus } from '../../agents/index.js';
import { parseCommandArgs } from '../args.js';
import { bold, dim, runCommand } from '../output.js';

const help = `Usage: bin/status [--json] [--reset APP]

Is the kit healthy? Its web workers (pid, status, restarts, uptime, memory,
CPU, the build each serves), its agents (and what agents.launcher's status
command says, when the project keeps its own launcher), versions, port and
build id, apps stopped for crash-looping, and one verdict. Exits 0 only
when healthy.

  --json       the same as JSON
  --reset APP  close APP's circuit after the pm2-monitor stopped it for
               crash-looping, and start it again
  -h, --help   show this help`;

await runCommand(async () => {
  const { values } = parseCommandArgs('bin/status', process.argv.slice(2), {
    json: { type: 'boolean', default: false },
    reset: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return void console.log(help);
  const settings = readSettings();
  if (values.reset !== undefined) return reset(settings, values.reset);

  const status = await kitStatus(settings);
  if (values.json) console.log(JSON.stringify(status, null, 2));
  else print(status);
  return status.healthy ? 0 : 1;
});

async function reset(settings: Settings, app: string): Promise<number> {
  const state = await readMonitorState(settings.logsDir);
  if (state?.apps[app]?.circuit.state !== 'open') {
    console.log(`${app} has no open circuit: nothing to reset`);
    return 0;
  }
  await requestReset(settings.logsDir, app);
  const monitor = (await agentsStatus(settings)).agents.find((agent) => agent.name === 'pm2-monitor');
  if (monitor?.state === 'running') {
    console.log(`✓ reset ${app}: the pm2-monitor (pid ${monitor.pid}) starts it again within ${settings.monitorSnapshotMs / 1000} s`);
  } else if (await Pm2Client.ifRunning((client) => client.restartApp(app).then(() => true))) {
    console.log(`✓ reset ${app} and started it again (the pm2-monitor is not running)`);
  } else {
    console.log(`✓ reset ${app}; no PM2 daemon runs, so it starts with the next bin/start-pm2 (or pm2 start)`);
  }
  return 0;
}

function print(status: KitStatus): void {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  const time = (ms: number) => (ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);
  console.log(`${bold(status.healthy ? '✓ healthy' : '✗ not healthy')}  ${status.web.url}  build ${status.web.build ?? '–'}`);
  console.log(dim(`  kit ${status.versions.kit}, Node ${status.versions.node}, PM2 ${status.versions.pm2}, Astro ${status.versions.astro} (the build served); PM2_HOME ${status.pm2.home} (daemon ${status.pm2.daemonPid ?? 'not running'})`));
  console.log(dim(`  host ${status.host.name}, roles ${status.host.roles.join(' and ')}${status.host.outOfRotation ? ', OUT OF ROTATION (astro-cluster hosts in puts it back)' : ''}`));
  console.log(`\n${bold(`web: ${status.web.app}`)}, ${status.web.workers.length} of ${status.web.expected} worker(s)`);
  for (const w of status.web.workers) {
    console.log(`  #${w.instance}  pid ${String(w.pid).padEnd(7)} ${w.status.padEnd(9)} restarts ${String(w.restarts).padEnd(4)} up ${time(w.uptimeMs).padEnd(8)} ${mb(w.memoryBytes).padEnd(7)} cpu ${w.cpuPercent}%  build ${w.build ?? 'no answer'}${w.degraded ? ` (degraded: could not load ${w.degraded.wanted})` : ''}`);
  }
  console.log(`\n${bold('agents')} (supervisor ${status.agents.supervisor.state}${status.agents.supervisor.pid ? `, pid ${status.agents.supervisor.pid}` : ''})`);
  const row = (a: KitStatus['agents']['agents'][number]) =>
    console.log(`  ${a.name.padEnd(18)} ${a.state.padEnd(12)} ${a.pid === null ? '' : `pid ${a.pid}`}${a.restarts ? `  restarts ${a.restarts}` : ''}${a.detail ? dim(`  ${a.detail}`) : ''}`);
  status.agents.agents.filter((a) => a.kind !== 'service').forEach(row);
  const services = status.agents.agents.filter((a) => a.kind === 'service');
  if (services.length > 0) {
    console.log(`\n${bold('services')}`);
    services.forEach(row);
  }
  if (status.launcher) {
    const { launcher } = status;
    console.log(`\n${bold('launcher')} (${launcher.command}): ${launcher.ok ? 'answered' : 'failed'}`);
    const text = launcher.ok ? JSON.stringify(launcher.status, null, 2) : launcher.error;
    for (const line of text.split('\n')) console.log(`  ${line}`);
  }
  console.log(`\n${bold('hosts')} (${status.hosts.registry})`);
  for (const host of status.hosts.list) {
    console.log(`  ${host.name.padEnd(18)} ${host.roles.join('+').padEnd(11)} release ${(host.release ?? '–').padEnd(24)} ${host.health}${host.listen ? dim(`  ${host.listen}`) : ''}`);
  }
  if (status.problems.length > 0) {
    console.log(`\n${bold('problems')}`);
    for (const problem of status.problems) console.log(`  - ${problem}`);
  }
}
