import { boot, halt, installStartup, startupFiles, uninstallStartup, unitFor, type StartupOptions } from '../../boot/index.js';
import { errors, readSettings } from '../../core/index.cjs';
import { parseCommandArgs } from '../args.js';
import { bold, runCommand, terminalReporter } from '../output.js';

const help = `Usage: bin/startup show|install|uninstall [--user] [--dir DIR] [--user-name NAME] [--allow-root]
       bin/startup boot|halt

Brings the kit back after a reboot with a systemd unit whose paths are
stable (no path inside node_modules/.pnpm, no PATH of the moment). Its start
restores the PM2 apps saved by start-pm2/stop-pm2 and the agents that are
wanted; its stop stops both. What stop-pm2 stopped stays stopped.

  show        print the unit
  install     write the unit (and its settings file, mode 600), save PM2's
              process list, and enable the unit when systemd runs
  uninstall   disable and remove them
  boot        what the unit starts (ExecStart)
  halt        what the unit runs to stop (ExecStop)

  --user      a user unit (~/.config/systemd/user) instead of a system one
  --dir DIR   write the unit into DIR instead
  --user-name NAME  the user the system unit runs as (default: you, or the
              user who ran sudo); root is refused (KIT_STARTUP_AS_ROOT)
  --allow-root      run the system unit as root all the same`;

await runCommand(async () => {
  const [command, ...rest] = process.argv.slice(2);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return void console.log(help);
  const { values } = parseCommandArgs(`bin/startup ${command}`, rest, {
    user: { type: 'boolean', default: false },
    dir: { type: 'string' },
    'user-name': { type: 'string' },
    'allow-root': { type: 'boolean', default: false },
  });
  const settings = readSettings();
  const options: StartupOptions = {
    mode: values.user ? 'user' : 'system',
    ...(values.dir && { dir: values.dir }),
    ...(values['user-name'] && { userName: values['user-name'] }),
    allowRoot: values['allow-root'],
  };
  const report = terminalReporter();
  switch (command) {
    case 'show':
      return void process.stdout.write(unitFor(settings, options));
    case 'install': {
      const { files, enabled } = await installStartup(settings, options, report);
      console.log(`\n${bold(enabled ? `${files.name} will start the kit at boot` : `${files.name} is written, not enabled`)}`);
      return;
    }
    case 'uninstall':
      await uninstallStartup(settings, options, report);
      return;
    case 'boot': {
      const booted = await boot(settings, report);
      console.log(`${bold('booted')}: ${booted.web.length} web worker(s), agents: ${booted.agents.join(', ') || 'none'}`);
      return;
    }
    case 'halt':
      await halt(settings, report);
      return;
    default:
      throw errors.usage(`bin/startup: unknown command ${command}`, `Run bin/startup --help; the unit is ${startupFiles(settings, options).unit}.`);
  }
});
