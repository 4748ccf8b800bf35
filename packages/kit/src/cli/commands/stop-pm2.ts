import { parseCommandArgs } from '../args.js';
import { stopKit } from '../kit.js';
import { runCommand, terminalReporter } from '../output.js';

const help = `Usage: bin/stop-pm2

Stops the kit: deletes its web workers from PM2 (other PM2 apps keep
running; the daemon stays), then stops its agents and their supervisor, each
by the pid in its lock, then runs agents.launcher's stop command when the
project keeps its own launcher. Exits 0 when nothing ran, 1 when the
launcher's stop failed (KIT_LAUNCHER_FAILED). It stops both whatever the
host's roles: what runs goes, even when the roles changed since it started.`;

await runCommand(async () => {
  const { values } = parseCommandArgs('bin/stop-pm2', process.argv.slice(2), {
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return void console.log(help);

  await stopKit(terminalReporter());
});
