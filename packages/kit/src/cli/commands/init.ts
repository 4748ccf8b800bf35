import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseCommandArgs } from '../args.js';
import { initProject } from '../init/init.js';
import { bold, dim, runCommand, terminalReporter } from '../output.js';

const help = `Usage: astro-cluster init [--yes] [--site DIR] [--name NAME] [--port N]

Adds the kit to the pnpm repo in the working directory (or --root DIR); it
does not look in the folders above. It finds the Astro app (the folder of
apps/* that depends on astro, else the root), checks that it uses
@astrojs/node in standalone mode, and writes, at the root:

  astro-cluster.config.json   the site's folder and outDir, the web cluster's settings
  ecosystem.config.js         the PM2 ecosystem file (.cjs in a "type": "module" package)
  bin/start-pm2, bin/stop-pm2 start or reload, and stop, the site under PM2

It adds pm2 to the root package.json's devDependencies and logs/ and
.astro-cluster/ to .gitignore. It never edits the site. A file that is
there with other content is kept as NAME.orig; a file that is already
right is left alone, so running init again changes nothing.

  -y, --yes      make the changes without asking (needed without a terminal)
  --site DIR     the Astro app's folder, relative to the root
  --name NAME    the PM2 app name of the web cluster (default astro-web)
  --port N       the site's port (default 4321)
  -h, --help     show this help`;

await runCommand(async () => {
  const { values } = parseCommandArgs('astro-cluster init', process.argv.slice(2), {
    yes: { type: 'boolean', short: 'y', default: false },
    site: { type: 'string' },
    name: { type: 'string' },
    port: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return void console.log(help);

  // init makes a project: it starts where it is told, never at a config file found further up.
  const root = path.resolve(process.env.ASTRO_CLUSTER_ROOT?.trim() || process.cwd());
  const result = await initProject(
    root,
    {
      yes: values.yes,
      ...(values.site !== undefined && { site: values.site }),
      ...(values.name !== undefined && { name: values.name }),
      ...(values.port !== undefined && { port: values.port }),
      ...(process.stdin.isTTY === true && { confirm }),
    },
    terminalReporter(),
  );
  if (result.cancelled) {
    console.log('nothing changed');
    return 1;
  }
  const width = Math.max(...result.nextSteps.map((step) => step.command.length));
  console.log(`\n${bold(result.plan.length > 0 ? 'Next steps:' : 'Everything is up to date. Next steps:')}`);
  for (const step of result.nextSteps) console.log(`  ${step.command.padEnd(width)}   ${dim(step.why)}`);
});

/** One y/N question showing the whole plan; anything but y or yes is no. */
async function confirm(plan: string[]): Promise<boolean> {
  console.log(`${bold('astro-cluster init will:')}\n${plan.map((line) => `  - ${line}`).join('\n')}`);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question('Go ahead? [y/N] ')).trim());
  } finally {
    prompt.close();
  }
}
