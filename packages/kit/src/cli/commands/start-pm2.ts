import { errors, pm2Home } from '../../core/index.cjs';
import { ecosystemFile } from '../../cluster/web.js';
import { parseCommandArgs } from '../args.js';
import { everydayCommands } from '../everyday.js';
import { startKit } from '../kit.js';
import { bold, dim, runCommand, terminalReporter } from '../output.js';

const help = `Usage: bin/start-pm2 [--no-agents]

Starts the kit, or reloads it worker by worker when it already runs:
checks Node, dependencies and settings, builds the site when its sources
changed, starts the agents (agents.launcher's start command, then the
kit's own agents.list), then the web cluster under PM2, and waits until
every worker answers its health path (web.healthPath, /healthz by default). Agents that fail to start are reported and
the web cluster is started all the same; the command then exits 1
(KIT_AGENTS_NOT_STARTED).

  --no-agents   start the web cluster only

What starts also follows the host's roles (\`roles\` in the config, or
ASTRO_CLUSTER_ROLES=web|agents|web,agents for one run): a web-only host
starts no agents, an agents-only host no web cluster.
  -h, --help    show this help

Settings come from the environment (HOST, PORT, WEB_INSTANCES, LOGS_DIR, ...):
see README.md.`;

await runCommand(async () => {
  const { values } = parseCommandArgs('bin/start-pm2', process.argv.slice(2), {
    'no-agents': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return void console.log(help);

  const { settings, web, agents, failedAgents } = await startKit({ agents: !values['no-agents'] }, terminalReporter());
  const app = settings.webAppName;
  if (web) {
    const workers = web.workers.map((w) => `#${w.instance} pid ${w.pid}`).join(', ');
    console.log(`\n${bold(`${app} ${web.action}: ${web.url}`)} with ${web.workers.length} worker(s), build ${web.build}`);
    console.log(dim(`  workers: ${workers}`));
  } else {
    console.log(`\n${bold(`host ${settings.hostName}: agents only`)} (roles ${settings.roles.join(', ')}): no web cluster here`);
  }
  if (agents.length > 0) console.log(dim(`  agents: ${agents.map((a) => (a.standby ? `${a.name} on standby (another host runs it)` : `${a.name} running (pid ${a.pid})`)).join(', ')}`));
  if (failedAgents.length > 0) console.log(`  agents that did not start: ${failedAgents.map((a) => a.name).join(', ')}`);
  console.log(dim(`  PM2_HOME ${pm2Home()}, logs in ${settings.logsDir}`));
  console.log(`\n${everydayCommands(settings.root, app, ecosystemFile(settings))}`);
  // The site runs, but not everything that was asked for: say which, and exit 1.
  if (failedAgents.length > 0) throw errors.agentsNotStarted(failedAgents);
});
