import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { initProject, type InitOptions } from 'astro-cluster-kit/cli';
import { KitError, readSettings, type Reporter } from 'astro-cluster-kit/core';
import { exec, repoRoot } from '../helpers/kit.js';

const kitBin = path.join(repoRoot, 'packages', 'kit', 'bin', 'astro-cluster.js');
const kitPm2 = (JSON.parse(readFileSync(path.join(repoRoot, 'packages', 'kit', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.pm2;
const standalone = `// @ts-check  https://astro.build/config
import { defineConfig } from 'astro/config';
import node from '@astrojs/node';

export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
});
`;
const dirs: string[] = [];

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface RepoOptions {
  /** The root package.json; default a private package with one devDependency. */
  root?: Record<string, unknown>;
  /** apps/web/package.json's dependencies; default astro and @astrojs/node. */
  siteDependencies?: Record<string, string>;
  /** apps/web/astro.config.mjs; default standalone. */
  astroConfig?: string;
  /** More files, relative to the root. */
  files?: Record<string, string>;
}

/** A throwaway pnpm repo with an Astro app in apps/web. */
async function makeRepo(options: RepoOptions = {}): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kit-init-'));
  dirs.push(root);
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(options.root ?? { name: 'shop', private: true, scripts: { build: 'pnpm -r build' }, devDependencies: { typescript: '~5.9.3' } }, null, 2)}\n`,
    'apps/web/package.json': `${JSON.stringify({ name: 'web', scripts: { build: 'astro build' }, dependencies: options.siteDependencies ?? { '@astrojs/node': '^9.0.0', astro: '^5.0.0' } }, null, 2)}\n`,
    'apps/web/astro.config.mjs': options.astroConfig ?? standalone,
    'apps/web/src/pages/index.astro': '<h1>Shop</h1>\n',
    ...options.files,
  };
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}

function collector(): { lines: string[]; report: Reporter } {
  const lines: string[] = [];
  const add = (text: string) => void lines.push(text);
  return { lines, report: { step: add, progress: add, done: add, warn: add, output: add } };
}

function init(root: string, options: Partial<InitOptions> = {}) {
  const { lines, report } = collector();
  return initProject(root, { yes: true, ...options }, report).then((result) => ({ result, lines }));
}

/** Every file under `dir`: bytes, mtime and mode, to show that nothing changed. */
function snapshot(dir: string): Map<string, { bytes: Buffer; mtimeMs: number; mode: number }> {
  const files = new Map<string, { bytes: Buffer; mtimeMs: number; mode: number }>();
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const file = path.join(at, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) files.set(path.relative(dir, file), { bytes: readFileSync(file), mtimeMs: statSync(file).mtimeMs, mode: statSync(file).mode });
    }
  };
  walk(dir);
  return files;
}

const read = (root: string, file: string) => readFileSync(path.join(root, file), 'utf8');
const modeOf = (root: string, file: string) => statSync(path.join(root, file)).mode & 0o777;

function refusedWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof KitError, `expected a KitError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** Loads an ecosystem file the way PM2 does (require), with the kit installed beside it. */
async function loadEcosystem(root: string, file: string) {
  await mkdir(path.join(root, 'node_modules'), { recursive: true });
  if (!existsSync(path.join(root, 'node_modules', 'astro-cluster-kit'))) await symlink(path.join(repoRoot, 'packages', 'kit'), path.join(root, 'node_modules', 'astro-cluster-kit'));
  const code = `console.log(JSON.stringify(require(${JSON.stringify(path.join(root, file))})))`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (/^(ASTRO_CLUSTER_ROOT|PORT|HOST|WEB_|SITE_|LOGS_DIR)/.test(key)) delete env[key];
  const result = await exec(process.execPath, ['-e', code], env, 30_000);
  assert.equal(result.code, 0, result.output);
  return JSON.parse(result.stdout) as { apps: { name: string; env: Record<string, string> }[] };
}

test('writes the config, the ecosystem file and executable bin fronts; adds pm2 and the ignore lines; leaves the site alone', async () => {
  const root = await makeRepo();
  const site = snapshot(path.join(root, 'apps', 'web'));
  const { result, lines } = await init(root);

  assert.equal(result.site.relative, 'apps/web');
  assert.equal(result.ecosystemFile, 'ecosystem.config.js');
  assert.deepEqual(result.keptAsOrig, []);
  assert.equal(
    read(root, 'astro-cluster.config.json'),
    `${JSON.stringify(
      {
        $schema: './node_modules/astro-cluster-kit/astro-cluster.schema.json',
        site: { dir: 'apps/web', outDir: 'dist' },
        web: { name: 'astro-web', instances: 'max', host: '127.0.0.1', port: 4321, healthPath: '/healthz' },
        agents: { list: [] },
      },
      null,
      2,
    )}\n`,
  );
  const settings = readSettings({ ASTRO_CLUSTER_ROOT: root });
  assert.equal(settings.siteRoot, path.join(root, 'apps', 'web'));
  assert.equal(settings.siteOutDir, path.join(root, 'apps', 'web', 'dist'));

  const ecosystem = read(root, 'ecosystem.config.js');
  assert.match(ecosystem, /^\/\/ /, 'a comment header');
  assert.match(ecosystem, /require\('astro-cluster-kit\/ecosystem'\)/);
  assert.match(ecosystem, /module\.exports = kit\.ecosystem\(__dirname\);\n$/);
  const loaded = await loadEcosystem(root, 'ecosystem.config.js');
  assert.equal(loaded.apps[0]?.name, 'astro-web');
  assert.equal(loaded.apps[0]?.env.ASTRO_CLUSTER_ROOT, root);

  for (const [file, command] of [['bin/start-pm2', 'start'], ['bin/stop-pm2', 'stop']] as const) {
    assert.equal(modeOf(root, file), 0o755, `${file} is executable`);
    assert.match(read(root, file), /^#!\/bin\/sh\n/);
    assert.ok(read(root, file).includes(`exec "$kit" --root "$root" ${command} "$@"\n`));
    assert.equal(read(root, file), read(repoRoot, file), `${file} is the reference deployment's`);
  }

  const pkg = read(root, 'package.json');
  assert.deepEqual(Object.keys(JSON.parse(pkg)), ['name', 'private', 'scripts', 'devDependencies']);
  assert.deepEqual(JSON.parse(pkg).devDependencies, { pm2: kitPm2, typescript: '~5.9.3' });
  assert.match(pkg, /^\{\n {2}"name"/);
  assert.ok(pkg.endsWith('}\n'));
  assert.equal(read(root, '.gitignore'), 'logs/\n.astro-cluster/\n');

  assert.deepEqual(snapshot(path.join(root, 'apps', 'web')), site, "the site's files are untouched");
  assert.ok(lines.includes('wrote ecosystem.config.js'), lines.join('\n'));
  assert.ok(lines.some((line) => line.startsWith(`added pm2 ${kitPm2} to devDependencies`)), lines.join('\n'));
  assert.deepEqual(result.nextSteps.map((step) => step.command), ['pnpm install', './bin/start-pm2', 'pnpm exec pm2 reload astro-web', './bin/stop-pm2']);
});

test('a second run changes nothing: same bytes, same mtimes, no .orig, everything up to date', async () => {
  const root = await makeRepo({ files: { '.gitignore': 'node_modules\n' } });
  await init(root);
  const before = snapshot(root);
  const { result, lines } = await init(root, { yes: false });

  assert.deepEqual(result.plan, []);
  assert.deepEqual(result.written, []);
  assert.deepEqual(snapshot(root), before);
  assert.ok(![...before.keys()].some((file) => file.includes('.orig')));
  for (const file of ['astro-cluster.config.json', 'ecosystem.config.js', 'bin/start-pm2', 'bin/stop-pm2']) assert.ok(lines.includes(`${file} is up to date`), lines.join('\n'));
  assert.equal((read(root, 'package.json').match(/"pm2"/g) ?? []).length, 1, 'pm2 is added once');
  assert.equal(read(root, '.gitignore'), 'node_modules\nlogs/\n.astro-cluster/\n');
});

test('an existing ecosystem.config.js with other content is kept as .orig, then .orig.1', async () => {
  const mine = "module.exports = { apps: [{ name: 'mine', script: 'server.js' }] };\n";
  const root = await makeRepo({ files: { 'ecosystem.config.js': mine } });
  const { result, lines } = await init(root);
  assert.deepEqual(result.keptAsOrig, [{ file: 'ecosystem.config.js', orig: 'ecosystem.config.js.orig' }]);
  assert.equal(read(root, 'ecosystem.config.js.orig'), mine);
  assert.match(read(root, 'ecosystem.config.js'), /kit\.ecosystem\(__dirname\)/);
  assert.ok(lines.includes('kept your ecosystem.config.js as ecosystem.config.js.orig'), lines.join('\n'));

  await writeFile(path.join(root, 'ecosystem.config.js'), mine);
  const again = await init(root);
  assert.deepEqual(again.result.keptAsOrig, [{ file: 'ecosystem.config.js', orig: 'ecosystem.config.js.orig.1' }]);
  assert.equal(read(root, 'ecosystem.config.js.orig'), mine, 'the first original is never overwritten');
});

test('a bin front that is right but not executable is only made executable', async () => {
  const root = await makeRepo();
  await init(root);
  await chmod(path.join(root, 'bin', 'stop-pm2'), 0o644);
  const { result } = await init(root);
  assert.deepEqual(result.plan, ['make bin/stop-pm2 executable']);
  assert.equal(modeOf(root, 'bin/stop-pm2'), 0o755);
  assert.ok(!existsSync(path.join(root, 'bin', 'stop-pm2.orig')));
});

test('a site in middleware mode is refused, saying why, and nothing is written', async () => {
  const root = await makeRepo({ astroConfig: standalone.replace("mode: 'standalone'", 'mode: "middleware"') });
  const before = snapshot(root);
  await assert.rejects(init(root), refusedWith('KIT_NOT_STANDALONE', /middleware[\s\S]*healthz[\s\S]*404/));
  assert.deepEqual(snapshot(root), before);
});

test('a site with another adapter is refused', async () => {
  const config = "import { defineConfig } from 'astro/config';\nimport vercel from '@astrojs/vercel';\n\nexport default defineConfig({ output: 'server', adapter: vercel() });\n";
  const root = await makeRepo({ astroConfig: config, siteDependencies: { astro: '^5.0.0', '@astrojs/vercel': '^8.0.0' } });
  await assert.rejects(init(root), refusedWith('KIT_NOT_STANDALONE', /does not import @astrojs\/node.*@astrojs\/vercel/));
  assert.ok(!existsSync(path.join(root, 'astro-cluster.config.json')));
});

test('a site whose package.json lacks @astrojs/node is refused, even with a standalone config', async () => {
  const root = await makeRepo({ siteDependencies: { astro: '^5.0.0' } });
  await assert.rejects(init(root), refusedWith('KIT_NOT_STANDALONE', /package\.json does not depend on @astrojs\/node/));
});

test('node() without a mode, or with one init cannot read, is refused', async () => {
  for (const call of ['node()', 'node({ mode })']) {
    const root = await makeRepo({ astroConfig: standalone.replace("node({ mode: 'standalone' })", call) });
    await assert.rejects(init(root), refusedWith('KIT_NOT_STANDALONE', /mode/));
  }
});

test('a comment or a string that mentions standalone does not count', async () => {
  const config = "import node from '@astrojs/node';\n// adapter: node({ mode: 'standalone' })\nexport default { site: \"node({ mode: 'standalone' })\", adapter: node({ mode: 'middleware' }) };\n";
  const root = await makeRepo({ astroConfig: config });
  await assert.rejects(init(root), refusedWith('KIT_NOT_STANDALONE', /middleware/));
});

test('outDir is read when it is a plain string; a nested one is not Astro\'s; anything else means dist, with a warning', async () => {
  const build = standalone.replace("output: 'server',", "output: 'server',\n  outDir: './build', // not dist\n  vite: { build: { outDir: 'nope' } },");
  const root = await makeRepo({ astroConfig: build });
  await init(root);
  assert.equal(JSON.parse(read(root, 'astro-cluster.config.json')).site.outDir, './build');

  const computed = standalone.replace("output: 'server',", "output: 'server',\n  outDir: new URL('./out', import.meta.url),");
  const other = await makeRepo({ astroConfig: computed });
  const { lines } = await init(other);
  assert.equal(JSON.parse(read(other, 'astro-cluster.config.json')).site.outDir, 'dist');
  assert.ok(lines.some((line) => line.includes('outDir') && line.includes('assuming dist')), lines.join('\n'));
});

test('without --yes and without a terminal, init refuses and names --yes', async () => {
  const root = await makeRepo();
  await assert.rejects(init(root, { yes: false }), refusedWith('KIT_USAGE', /no terminal/));

  const run = await exec(process.execPath, [kitBin, 'init'], { ...process.env, ASTRO_CLUSTER_ROOT: root, FORCE_COLOR: '0' }, 120_000);
  assert.equal(run.code, 2, run.output);
  assert.match(run.output, /--yes/);
  assert.match(run.output, /KIT_USAGE/);
  assert.ok(!existsSync(path.join(root, 'astro-cluster.config.json')));
  assert.ok(!existsSync(path.join(root, '.gitignore')));
});

test('asked to confirm, init shows the plan; a no changes nothing', async () => {
  const root = await makeRepo({ files: { 'ecosystem.config.js': '// mine\n' } });
  const before = snapshot(root);
  let shown: string[] = [];
  const { result } = await init(root, {
    yes: false,
    confirm: async (plan) => {
      shown = plan;
      return false;
    },
  });
  assert.equal(result.cancelled, true);
  assert.deepEqual(snapshot(root), before);
  assert.deepEqual(shown, [
    'write astro-cluster.config.json',
    'write ecosystem.config.js (the one there now is kept as ecosystem.config.js.orig)',
    'write bin/start-pm2',
    'write bin/stop-pm2',
    `add pm2 ${kitPm2} to devDependencies in package.json`,
    'add logs/, .astro-cluster/ to .gitignore (a new file)',
  ]);
});

test('pm2 already in dependencies is not added again; .gitignore lines already there are not repeated', async () => {
  const rootPkg = { name: 'shop', private: true, dependencies: { pm2: '^6.0.0' } };
  const root = await makeRepo({ root: rootPkg, files: { '.gitignore': 'node_modules\r\nlogs/*\r\n!logs/.gitkeep\r\n.astro-cluster' } });
  const pkg = read(root, 'package.json');
  const { lines } = await init(root);
  assert.equal(read(root, 'package.json'), pkg);
  assert.ok(lines.includes('package.json is up to date (it has pm2)'), lines.join('\n'));
  assert.equal(read(root, '.gitignore'), 'node_modules\r\nlogs/*\r\n!logs/.gitkeep\r\n.astro-cluster');
});

test('a "type": "module" root gets ecosystem.config.cjs, which PM2 can require; an ecosystem.config.js is moved aside', async () => {
  const root = await makeRepo({ root: { name: 'shop', private: true, type: 'module' }, files: { 'ecosystem.config.js': 'export default { apps: [] };\n' } });
  const { result, lines } = await init(root);
  assert.equal(result.ecosystemFile, 'ecosystem.config.cjs');
  assert.ok(!existsSync(path.join(root, 'ecosystem.config.js')));
  assert.equal(read(root, 'ecosystem.config.js.orig'), 'export default { apps: [] };\n');
  assert.ok(lines.some((line) => line.includes('ecosystem.config.cjs') || line.includes('ecosystem.config.js.orig')), lines.join('\n'));
  assert.match(read(root, 'ecosystem.config.cjs'), /module\.exports = kit\.ecosystem\(__dirname\)/);
  assert.equal((await loadEcosystem(root, 'ecosystem.config.cjs')).apps[0]?.name, 'astro-web');
  assert.deepEqual(JSON.parse(read(root, 'package.json')).devDependencies, { pm2: kitPm2 }, 'devDependencies added at the end');

  const before = snapshot(root);
  await init(root);
  assert.deepEqual(snapshot(root), before, 'and a second run changes nothing');
});

test('--name and --port are written, and checked by the same rules as the settings', async () => {
  const root = await makeRepo();
  await init(root, { name: 'shop-web', port: '8080' });
  const config = JSON.parse(read(root, 'astro-cluster.config.json'));
  assert.equal(config.web.name, 'shop-web');
  assert.equal(config.web.port, 8080);
  await assert.rejects(init(root, { port: '99999' }), refusedWith('KIT_USAGE', /--port="99999"/));
  await assert.rejects(init(root, { name: 'has space', port: '0' }), refusedWith('KIT_USAGE', /--name="has space"[\s\S]*--port="0"/));
});

test('finding the site: the app with @astrojs/node among several, --site, or the root', async () => {
  const docs = { 'apps/docs/package.json': '{ "name": "docs", "dependencies": { "astro": "^5.0.0" } }\n', 'apps/api/package.json': '{ "name": "api" }\n' };
  const root = await makeRepo({ files: docs });
  assert.equal((await init(root)).result.site.relative, 'apps/web');

  const two = await makeRepo({ files: { 'apps/shop/package.json': '{ "name": "shop", "dependencies": { "astro": "^5.0.0", "@astrojs/node": "^9.0.0" } }\n' } });
  await assert.rejects(init(two), refusedWith('KIT_USAGE', /apps\/shop, apps\/web/));
  const { result } = await init(two, { site: 'apps/web' });
  assert.equal(JSON.parse(read(two, 'astro-cluster.config.json')).site.dir, 'apps/web');
  assert.equal(result.site.dir, path.join(two, 'apps', 'web'));

  const single = await mkdtemp(path.join(os.tmpdir(), 'kit-init-'));
  dirs.push(single);
  await writeFile(path.join(single, 'package.json'), '{ "name": "blog", "dependencies": { "astro": "^5.0.0", "@astrojs/node": "^9.0.0" } }\n');
  await writeFile(path.join(single, 'astro.config.ts'), standalone);
  await init(single);
  assert.equal(JSON.parse(read(single, 'astro-cluster.config.json')).site.dir, '.');
});

test('no package.json at the root, or no Astro app: KIT_NOT_ASTRO_PROJECT', async () => {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'kit-init-'));
  dirs.push(empty);
  await assert.rejects(init(empty), refusedWith('KIT_NOT_ASTRO_PROJECT', /no package\.json/));
  await writeFile(path.join(empty, 'package.json'), '{ "name": "plain" }\n');
  await assert.rejects(init(empty), refusedWith('KIT_NOT_ASTRO_PROJECT', /depends on astro/));
  assert.deepEqual(readdirSync(empty), ['package.json']);
});

test('the command: --yes prints each action and the next steps; a second run is up to date', async () => {
  const root = await makeRepo();
  const env = { ...process.env, FORCE_COLOR: '0' };
  const first = await exec(process.execPath, [kitBin, '--root', root, 'init', '--yes', '--port', '5050'], env, 120_000);
  assert.equal(first.code, 0, first.output);
  for (const text of ['wrote astro-cluster.config.json', 'wrote bin/start-pm2', 'added pm2', 'added logs/, .astro-cluster/ to .gitignore', 'pnpm install', './bin/start-pm2', 'pnpm exec pm2 reload astro-web', './bin/stop-pm2']) {
    assert.ok(first.stdout.includes(text), `${text} in:\n${first.output}`);
  }
  const second = await exec(process.execPath, [kitBin, '--root', root, 'init', '--port', '5050'], env, 120_000);
  assert.equal(second.code, 0, second.output);
  assert.match(second.stdout, /ecosystem\.config\.js is up to date/);
  assert.match(second.stdout, /Everything is up to date/);
});

test('an executable bin/mh stays the agents\' launcher: agents.launcher runs its commands instead of an empty agents.list', async () => {
  const mh = '#!/usr/bin/env bash\necho "mh $*"\n';
  const root = await makeRepo({ files: { 'bin/mh': mh } });
  await chmod(path.join(root, 'bin', 'mh'), 0o755);
  const { result, lines } = await init(root);

  assert.equal(result.agents, 'launcher');
  const config = JSON.parse(read(root, 'astro-cluster.config.json'));
  assert.deepEqual(config.agents, { launcher: { start: './bin/mh start --restart', stop: './bin/mh agent stop --all' } });
  assert.deepEqual(readSettings({ ASTRO_CLUSTER_ROOT: root }).agentsLauncher, config.agents.launcher);
  assert.ok(result.plan.some((line) => line.startsWith('write astro-cluster.config.json (agents.launcher: bin/mh')), result.plan.join('\n'));
  assert.ok(lines.some((line) => line.startsWith('wrote astro-cluster.config.json (agents.launcher: bin/mh')), lines.join('\n'));
  assert.equal(read(root, 'bin/mh'), mh, 'bin/mh itself is left alone');

  const before = snapshot(root);
  assert.deepEqual((await init(root, { yes: false })).result.plan, [], 'a second run changes nothing');
  assert.deepEqual(snapshot(root), before);
});

test('a bin/mh that is not executable, or is the kit\'s own front, is no launcher: agents.list as usual', async () => {
  const plain = await makeRepo({ files: { 'bin/mh': '#!/bin/sh\necho mh\n' } });
  await chmod(path.join(plain, 'bin', 'mh'), 0o644);
  assert.equal((await init(plain)).result.agents, 'list');
  assert.deepEqual(JSON.parse(read(plain, 'astro-cluster.config.json')).agents, { list: [] });

  // The reference deployment's bin/mh calls `astro-cluster agents`: as a launcher it would only call the kit back.
  const front = await makeRepo({ files: { 'bin/mh': read(repoRoot, 'bin/mh') } });
  await chmod(path.join(front, 'bin', 'mh'), 0o755);
  assert.equal((await init(front)).result.agents, 'list');
  assert.deepEqual(JSON.parse(read(front, 'astro-cluster.config.json')).agents, { list: [] });
});

test('the command with --yes takes the launcher form and says so', async () => {
  const root = await makeRepo({ files: { 'bin/mh': '#!/usr/bin/env bash\nexit 0\n' } });
  await chmod(path.join(root, 'bin', 'mh'), 0o755);
  const run = await exec(process.execPath, [kitBin, '--root', root, 'init', '--yes'], { ...process.env, FORCE_COLOR: '0' }, 120_000);
  assert.equal(run.code, 0, run.output);
  assert.match(run.stdout, /wrote astro-cluster\.config\.json \(agents\.launcher: bin\/mh stays the agents' launcher, run as \.\/bin\/mh start --restart and \.\/bin\/mh agent stop --all\)/);
  assert.deepEqual(JSON.parse(read(root, 'astro-cluster.config.json')).agents.launcher, { start: './bin/mh start --restart', stop: './bin/mh agent stop --all' });
});
