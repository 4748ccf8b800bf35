import { errors, readSettings } from '../../core/index.cjs';
import { listHosts } from '../../hosts/registry.js';
import { putBackInRotation, takeOutOfRotation } from '../../hosts/rotation.js';
import { parseCommandArgs } from '../args.js';
import { runCommand } from '../output.js';

const help = `Usage: astro-cluster hosts [list | out | in] [--json]

  list   every host that Redis knows to be up (EVENTS_BACKEND=redis): name,
         roles, release, health (the default)
  out    take this host out of the proxy's rotation: its health path
         answers 503 and its workers keep serving what reaches them
  in     put it back
  --json the list as JSON
  -h, --help   show this help`;

await runCommand(async () => {
  const { values, positionals } = parseCommandArgs('astro-cluster hosts', process.argv.slice(2), {
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  }, true);
  if (values.help) return void console.log(help);
  const settings = readSettings();
  const action = positionals[0] ?? 'list';
  if (action === 'out') {
    await takeOutOfRotation(settings.logsDir, 'astro-cluster hosts out');
    return void console.log(`✓ ${settings.hostName} is out of rotation: ${settings.healthPath} answers 503 until \`astro-cluster hosts in\``);
  }
  if (action === 'in') {
    await putBackInRotation(settings.logsDir);
    return void console.log(`✓ ${settings.hostName} is back in rotation`);
  }
  if (action !== 'list') throw errors.usage(`astro-cluster hosts: unknown action ${action}`, 'The actions: list, out, in.');
  const hosts = await listHosts(settings);
  if (values.json) return void console.log(JSON.stringify(hosts ?? null, null, 2));
  if (!hosts) return void console.log('no host registry: it lives in Redis (EVENTS_BACKEND=redis), which is not set or not reachable');
  for (const host of hosts) console.log(`${host.name.padEnd(16)} ${host.roles.join('+').padEnd(11)} release ${host.release ?? '–'}  ${host.health}  (${host.by}, ${host.updatedAt})`);
  return hosts.length > 0 ? 0 : 1;
});
