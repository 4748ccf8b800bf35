import { buildTried, deploy, deployAcrossHosts, withReleasesLock, listReleases, receiveRelease, releaseId, releasePaths, rollback, switchHostTo } from '../../deploy/index.js';
import { errors, readSettings } from '../../core/index.cjs';
import { parseCommandArgs } from '../args.js';
import { checkDependencies, checkNode } from '../preflight.js';
import { bold, dim, runCommand, terminalReporter } from '../output.js';

const help = `Usage: bin/deploy [--rollback] [--no-reload]
       bin/deploy --hosts [NAMES] [--rollback]

Builds the site into a new release (apps/site/releases/<build id>), tries it
in a trial worker, makes it current with one atomic rename of the
apps/site/dist symlink, then reloads the PM2 cluster worker by worker and
waits until every worker serves it. The previous releases are kept
(RELEASES_KEEP, default 5), so pages and page chunks of old workers stay
reachable. A failed build or trial changes nothing that runs.

  --rollback    make the release before the current one current again, the same way
  --no-reload   switch releases without reloading (the next start serves it)
  -h, --help    show this help

Several hosts (\`hosts\` in astro-cluster.config.json, docs/multi-host.md):

  --hosts [a,b] build and try the release here, put it on every host (or
                those named) without switching, then switch host by host:
                out of rotation, reload, healthy, back in rotation
                (with --rollback: every host back to the first host's
                previous release, the same way)

The steps it runs, also usable by hand, in this order:

  --build-only  build and try a release here, switch nothing; prints its id
  --receive ID  take release ID (a tar of its folder on stdin) and try it; no switch
  --release ID  out of rotation, switch to release ID, reload, back in rotation
  --show current|previous   print this host's current or previous release`;

await runCommand(async () => {
  // A bare --hosts means every host: parseArgs has no optional values.
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--hosts');
  if (at !== -1 && (argv[at + 1] === undefined || argv[at + 1]!.startsWith('-'))) argv[at] = '--hosts=*';
  const { values } = parseCommandArgs('bin/deploy', argv, {
    rollback: { type: 'boolean', default: false },
    'no-reload': { type: 'boolean', default: false },
    hosts: { type: 'string' },
    receive: { type: 'string' },
    release: { type: 'string' },
    show: { type: 'string' },
    'build-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return void console.log(help);
  checkNode();
  const settings = readSettings();
  const report = terminalReporter();
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

  if (values.show !== undefined) {
    if (values.show !== 'current' && values.show !== 'previous') throw errors.usage('--show takes current or previous');
    const id = await releaseId(settings, values.show);
    if (!id) throw errors.noPreviousRelease();
    return void console.log(`${values.show} release ${id}`);
  }
  checkDependencies(settings);
  if (values['build-only']) {
    const release = await withReleasesLock(settings, () => buildTried(settings, report));
    return void console.log(`\n${bold(`built release ${release.id}`)} (tried, not current) in ${seconds()} s`);
  }
  if (values.receive !== undefined) {
    // Input only when something is piped in: a terminal, or nothing, means the release must be here already.
    const release = await receiveRelease(settings, values.receive, process.stdin.isTTY ? undefined : process.stdin, report);
    return void console.log(`\n${bold(`host ${settings.hostName} has release ${release.id}`)}, tried, not switched to, in ${seconds()} s`);
  }
  if (values.release !== undefined) {
    const result = await switchHostTo(settings, values.release, report);
    console.log(`\n${bold(`host ${settings.hostName} deployed release ${result.release.id}`)} in ${seconds()} s`);
    if (result.web) console.log(dim(`  ${result.web.workers.length} worker(s) serve it: pids ${result.web.workers.map((w) => w.pid).join(', ')}`));
    return;
  }
  if (values.hosts !== undefined) {
    const result = await deployAcrossHosts(settings, { only: values.hosts, rollback: values.rollback }, report);
    console.log(`\n${bold(`${values.rollback ? 'rolled back' : 'deployed'} release ${result.release} on ${result.hosts.length} host(s)`)} (${result.hosts.join(', ')}) in ${seconds()} s`);
    return;
  }

  const options = { reload: !values['no-reload'] };
  const result = values.rollback ? await rollback(settings, options, report) : await deploy(settings, options, report);
  console.log(`\n${bold(`${values.rollback ? 'rolled back to' : 'deployed'} release ${result.release.id}`)} in ${seconds()} s`);
  if (result.previous) console.log(dim(`  previous release: ${result.previous.id} (bin/deploy --rollback switches back)`));
  if (result.web) console.log(dim(`  ${result.web.workers.length} worker(s) serve it: pids ${result.web.workers.map((w) => w.pid).join(', ')}`));
  console.log(dim(`  releases kept: ${(await listReleases(releasePaths(settings))).map((r) => r.id).join(', ')}`));
});
