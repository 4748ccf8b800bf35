// The files init writes, as text. Each is a function of its inputs only, so
// a second run produces the same bytes and leaves the file alone.

export interface ConfigValues {
  /** site.dir: the app's folder relative to the root, "." for the root. */
  siteDir: string;
  outDir: string;
  name: string;
  port: number;
  /** The repo's own agents launcher (bin/mh), kept as the launcher: agents.launcher instead of an empty agents.list. */
  launcher?: { start: string; stop: string };
}

/** The commands init proposes for an existing bin/mh: it starts (restarting) and stops all of its agents. */
export const mhLauncher = { start: './bin/mh start --restart', stop: './bin/mh agent stop --all' } as const;

/** astro-cluster.config.json: the fields init knows; everything else keeps its default. */
export function configText(values: ConfigValues): string {
  const config = {
    $schema: './node_modules/astro-cluster-kit/astro-cluster.schema.json',
    site: { dir: values.siteDir, outDir: values.outDir },
    web: { name: values.name, instances: 'max', host: '127.0.0.1', port: values.port, healthPath: '/healthz' },
    agents: values.launcher ? { launcher: { start: values.launcher.start, stop: values.launcher.stop } } : { list: [] },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The PM2 ecosystem file, `fileName` being ecosystem.config.js or, in a
 * "type": "module" package, ecosystem.config.cjs (a .js file there is ESM,
 * and PM2 loads ecosystem files with require()).
 */
export function ecosystemText(fileName: string): string {
  const why = fileName.endsWith('.cjs') ? '(.cjs: this package is "type": "module")' : '';
  return `// PM2 ecosystem file, as \`astro-cluster init\` writes it: the web cluster's
// settings come from astro-cluster.config.json (and the environment, for one
// run), checked by the kit, which rejects bad values (web.port 99999) with a
// clear message.
//
//   pnpm exec pm2 start ${fileName}    start (bin/start-pm2 does this, with checks)
//   pnpm exec pm2 reload ${fileName}   zero-downtime reload, worker by worker
//
// CommonJS on purpose${why ? ` ${why}` : ''}: PM2 loads this file with require().
'use strict';

let kit;
try {
  kit = require('astro-cluster-kit/ecosystem');
} catch (error) {
  throw new Error(\`astro-cluster-kit is not installed or not built (\${error.message}): run \\\`pnpm install\\\`, then ./bin/start-pm2\`);
}
module.exports = kit.ecosystem(__dirname);
`;
}

const summaries = {
  start: 'Start (or reload) the site and its agents: build when needed, agents, then the web cluster under PM2.',
  stop: "Stop the kit's web workers (other PM2 apps keep running) and its agents.",
} as const;

/** bin/start-pm2 or bin/stop-pm2: a POSIX sh front over the installed kit's command, wherever it is called from. */
export function frontScript(command: keyof typeof summaries): string {
  return `#!/bin/sh
# ${summaries[command]}
# A thin front over the kit's command: astro-cluster ${command} (astro-cluster ${command} --help).
root=$(dirname -- "$(dirname -- "$(readlink -f -- "$0")")")
kit="$root/node_modules/.bin/astro-cluster"
[ -x "$kit" ] || { echo "✗ astro-cluster-kit is not installed in $root: run 'pnpm install' there" >&2; exit 1; }
exec "$kit" --root "$root" ${command} "$@"
`;
}
