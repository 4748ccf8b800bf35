// astro-cluster <command>: every command of the kit, each a thin front over
// a library function the tests also call. The project is the folder holding
// astro-cluster.config.json (from the working directory up), or --root DIR.
import { projectRoot } from '../core/index.cjs';

const commands: Record<string, { module: string; args?: string[]; summary: string }> = {
  init: { module: './commands/init.js', summary: 'add the kit to this repo: config, ecosystem file, bin/start-pm2 and bin/stop-pm2' },
  start: { module: './commands/start-pm2.js', summary: 'build when needed, start the agents, start or reload the web cluster' },
  stop: { module: './commands/stop-pm2.js', summary: "stop the kit's web workers and agents" },
  deploy: { module: './commands/deploy.js', summary: 'build a release, try it, switch to it, reload worker by worker' },
  rollback: { module: './commands/deploy.js', args: ['--rollback'], summary: 'switch back to the previous release, the same way' },
  status: { module: './commands/status.js', summary: 'is it healthy? workers, agents, build, versions' },
  startup: { module: './commands/startup.js', summary: 'a systemd unit that brings it all back after a reboot' },
  agents: { module: './commands/mh.js', summary: 'the singleton agents: start, stop, status, logs' },
  proxy: { module: './commands/proxy.js', summary: 'an nginx configuration for the hosts of the config file' },
  hosts: { module: './commands/hosts.js', summary: 'this host in or out of the proxy\'s rotation; the hosts Redis knows' },
};

const help = `Usage: astro-cluster [--root DIR] <command> [options]

Runs an Astro SSR site (@astrojs/node, standalone) on every CPU core under
PM2, with singleton agents beside it.

${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`)
  .join('\n')}

astro-cluster <command> --help shows a command's options.`;

let args = process.argv.slice(2);
if (args[0] === '--root') {
  if (!args[1]) fail('--root needs a folder');
  process.env.ASTRO_CLUSTER_ROOT = args[1];
  args = args.slice(2);
} else if (args[0]?.startsWith('--root=')) {
  process.env.ASTRO_CLUSTER_ROOT = args[0].slice('--root='.length);
  args = args.slice(1);
}
const [name, ...rest] = args;
if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
  console.log(help);
  process.exit(0);
}
const command = commands[name];
if (!command) fail(`unknown command ${name}: run astro-cluster --help`);
// Every process the command starts (workers, agents, the supervisor) works for the same project, wherever its working directory.
if (name !== 'init') process.env.ASTRO_CLUSTER_ROOT = projectRoot();
process.argv = [process.argv[0]!, `astro-cluster ${name}`, ...(command.args ?? []), ...rest];
await import(command.module);

function fail(message: string): never {
  console.error(`✗ ${message}`);
  process.exit(2);
}
