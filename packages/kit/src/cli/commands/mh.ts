import { agentLogFile, agentsStatus, loadAgents, pickAgents, startAgents, stopAgents, supervisorName, type AgentStatus } from '../../agents/index.js';
import { errors, readSettings, tailLines } from '../../core/index.cjs';
import { parseCommandArgs } from '../args.js';
import { followFile } from '../follow.js';
import { bold, dim, runCommand, terminalReporter } from '../output.js';

const help = `Usage: bin/mh <command> [options]

Runs the kit's singleton agents outside PM2, each guarded by a lock, kept
alive by a supervisor that is itself a singleton.

  mh start [--restart] [NAME…]                start agents (all when none named)
  mh stop NAME… | --all [--timeout S] [--force]
                                              stop agents by the pid in their lock;
                                              --all stops the supervisor too
  mh status [--json]                          state, pid, since, restarts, lock of each
  mh logs NAME [-n N] [-f]                    the last N lines of an agent's log; -f follows
  mh agent start|stop|status …                the same commands
  mh help                                     this help

Exit codes: 0 done, 1 failed (the cause is printed), 2 usage error.`;

await runCommand(async () => {
  let args = process.argv.slice(2);
  if (args[0] === 'agent') args = args.slice(1);
  const [command, ...rest] = args;
  switch (command) {
    case 'start':
      return start(rest);
    case 'stop':
      return stop(rest);
    case 'status':
      return status(rest);
    case 'logs':
      return logs(rest);
    case 'help':
    case '--help':
    case '-h':
      return void console.log(help);
    case undefined:
      throw errors.usage('mh: which command?', 'Run mh help for usage.');
    default:
      throw errors.usage(`mh: unknown command ${command}`, 'Run mh help for usage.');
  }
});

async function start(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('mh start', args, { restart: { type: 'boolean', default: false } }, true);
  const settings = readSettings();
  await startAgents(settings, positionals, { restart: values.restart }, terminalReporter());
  return 0;
}

async function stop(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'mh stop',
    args,
    { all: { type: 'boolean', default: false }, timeout: { type: 'string', default: '10' }, force: { type: 'boolean', default: false } },
    true,
  );
  if (values.all === (positionals.length > 0)) throw errors.usage('mh stop: name the agents to stop, or use --all (not both).');
  const seconds = Number(values.timeout);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600) throw errors.usage(`mh stop: --timeout ${values.timeout} is not a number of seconds from 1 to 3600.`);
  const settings = readSettings();
  await stopAgents(settings, values.all ? 'all' : positionals, { timeoutMs: seconds * 1000, force: values.force }, terminalReporter());
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('mh status', args, { json: { type: 'boolean', default: false } });
  const report = await agentsStatus(readSettings());
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  // Services (a tunnel, a voice server) are listed apart from the agents, the supervisor last.
  const ordered = [...report.agents.filter((a) => a.kind !== 'service'), ...report.agents.filter((a) => a.kind === 'service'), report.supervisor];
  const rows = ordered.map((agent) => [
    agent.kind === 'service' ? `${agent.name} (service)` : agent.name,
    agent.state,
    agent.pid === null ? '-' : String(agent.pid),
    agent.since ? agent.since.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    String(agent.restarts),
    agent.lock,
  ]);
  const header = ['AGENT', 'STATE', 'PID', 'SINCE', 'RESTARTS', 'LOCK'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  // Which lock keeps each agent single: this host's file lock, or (with Redis) a lease that holds across hosts.
  const { locks } = report;
  console.log(dim(`locks: ${locks.description}${locks.kind === 'redis-lease' ? ` (LOCK_LEASE_MS ${locks.leaseMs}), over a file lock on this host` : ''}${locks.problem ? `: ${locks.problem}` : ''}`));
  console.log(bold(line(header)));
  for (const row of rows) console.log(line(row));
  for (const agent of ordered.filter((a): a is AgentStatus & { detail: string } => Boolean(a.detail))) {
    console.log(dim(`  ${agent.name}: ${agent.detail}`));
  }
  return 0;
}

async function logs(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'mh logs',
    args,
    { lines: { type: 'string', short: 'n', default: '40' }, follow: { type: 'boolean', short: 'f', default: false } },
    true,
  );
  if (positionals.length !== 1) throw errors.usage('mh logs: name one agent.', 'For example: mh logs scheduler-service -f');
  const lines = Number(values.lines);
  if (!Number.isInteger(lines) || lines < 0 || lines > 100_000) throw errors.usage(`mh logs: -n ${values.lines} is not a number of lines.`);
  const settings = readSettings();
  const name = positionals[0]!;
  if (name !== supervisorName) pickAgents(await loadAgents(settings.agentsConfig), [name]);
  const file = agentLogFile(settings.logsDir, name);
  const tail = await tailLines(file, lines);
  if (tail) console.log(tail);
  else if (!values.follow) console.log(dim(`(no log yet at ${file})`));
  if (values.follow) await followFile(file, (text) => process.stdout.write(text));
  return 0;
}
