import { readSettings } from '../../core/index.cjs';
import { deploy, listReleases, releasePaths, rollback } from '../../deploy/index.js';
import { parseCommandArgs } from '../args.js';
import { checkDependencies, checkNode } from '../preflight.js';
import { bold, dim, runCommand, terminalReporter } from '../output.js';

const help = `Usage: bin/deploy [--rollback] [--no-reload]

Builds the site into a new release (apps/site/releases/<build id>), tries it
in a trial worker, makes it current with one atomic rename of the
apps/site/dist symlink, then reloads the PM2 cluster worker by worker and
waits until every worker serves it. The previous releases are kept
(RELEASES_KEEP, default 5), so pages and page chunks of old workers stay
reachable. A failed build or trial changes nothing that runs.

  --rollback    make the release before the current one current again, the same way
  --no-reload   switch releases without reloading (the next start serves it)
  -h, --help    show this help`;

await runCommand(async () => {
  const { values } = parseCommandArgs('bin/deploy', process.argv.slice(2), {
    rollback: { type: 'boolean', default: false },
    'no-reload': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return void console.log(help);
  checkNode();
  const settings = readSettings();
  checkDependencies(settings);
  const started = Date.now();
  const options = { reload: !values['no-reload'] };
  const result = values.rollback ? await rollback(settings, options, terminalReporter()) : await deploy(settings, options, terminalReporter());

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\n${bold(`${values.rollback ? 'rolled back to' : 'deployed'} release ${result.release.id}`)} in ${seconds} s`);
  if (result.previous) console.log(dim(`  previous release: ${result.previous.id} (bin/deploy --rollback switches back)`));
  if (result.web) console.log(dim(`  ${result.web.workers.length} worker(s) serve it: pids ${result.web.workers.map((w) => w.pid).join(', ')}`));
  console.log(dim(`  releases kept: ${(await listReleases(releasePaths(settings))).map((r) => r.id).join(', ')}`));
});
