import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configFileName, errors, kitPackageRoot, writeFileAtomic, type Reporter } from '../../core/index.cjs';
import { readAstroConfig } from './astro-config.js';
import { applyFile, planAside, planFile, type FileChange } from './files.js';
import { findSite } from './find-site.js';
import { ignoredByKit, withIgnored } from './gitignore.js';
import { dependsOn, readPackageFile, withDevDependency } from './package-json.js';
import { hasOwnLauncher } from './launcher.js';
import { configText, ecosystemText, frontScript, mhLauncher } from './templates.js';
import { webOptions } from './web-options.js';

export interface InitOptions {
  /** Carry out the plan without asking (--yes). */
  yes: boolean;
  /** The Astro app's folder, relative to the root (--site); default: found in apps/*, else the root. */
  site?: string;
  /** web.name (--name); default astro-web. */
  name?: string;
  /** web.port (--port); default 4321. */
  port?: string | number;
  /** Asks a person to approve the plan (one line per change). Without it and without `yes`, init refuses to change anything. */
  confirm?: (plan: string[]) => Promise<boolean>;
}

export interface InitResult {
  root: string;
  site: { dir: string; relative: string; astroConfig: string; outDir: string };
  appName: string;
  /** The agents section written: `launcher` when the repo's own executable bin/mh stays the launcher, else an empty `list`. */
  agents: 'launcher' | 'list';
  /** The ecosystem file, relative to the root: ecosystem.config.js, or .cjs in a "type": "module" package. */
  ecosystemFile: string;
  /** The changes, as shown before they were made; empty when everything was up to date. */
  plan: string[];
  /** Files init wrote or changed, relative to the root. */
  written: string[];
  /** Files that were there with other content, and where they went. */
  keptAsOrig: { file: string; orig: string }[];
  /** The person said no: nothing was changed. */
  cancelled: boolean;
  nextSteps: { command: string; why: string }[];
}

/**
 * Adds the kit to the pnpm repo at `root`: checks that its Astro app uses
 * @astrojs/node in standalone mode, then writes astro-cluster.config.json,
 * the PM2 ecosystem file and bin/start-pm2 and bin/stop-pm2, adds pm2 to the
 * root package.json and the kit's folders to .gitignore. Never edits the
 * site. A file that is already right is left alone, one with other content
 * is kept as NAME.orig, so a second run changes nothing.
 */
export async function initProject(root: string, options: InitOptions, report: Reporter): Promise<InitResult> {
  root = path.resolve(root);
  const pkg = await readPackageFile(path.join(root, 'package.json'), root);
  if (!pkg) throw errors.notAstroProject(root, 'there is no package.json here (init works at the root of the repo and does not look in the folders above)');
  const web = webOptions(options.name, options.port);

  const site = await findSite(root, options.site);
  const siteName = site.relative === '.' ? root : site.relative;
  const astro = await readAstroConfig(site.dir, siteName);
  if (!dependsOn(site.packageJson, '@astrojs/node')) throw errors.siteNotStandalone(siteName, `${path.join(siteName, 'package.json')} does not depend on @astrojs/node`);
  report.done(`the Astro app is ${siteName}: @astrojs/node in standalone mode, outDir ${astro.outDir}`);
  if (astro.outDirGuessed !== undefined) {
    report.warn(`${path.basename(astro.file)} sets outDir to ${astro.outDirGuessed}, which init cannot read: assuming dist (set site.outDir in ${configFileName} if the build goes elsewhere)`);
  }

  // A .js file in a "type": "module" package is ESM, and PM2 require()s ecosystem files.
  const esm = pkg.json.type === 'module';
  const ecosystemName = esm ? 'ecosystem.config.cjs' : 'ecosystem.config.js';
  // A repo that already starts its agents with bin/mh keeps it: the kit runs its commands instead of agents of its own.
  const launcher = (await hasOwnLauncher(root)) ? mhLauncher : undefined;
  const changes = await Promise.all([
    planFile(root, { path: configFileName, content: configText({ siteDir: site.relative, outDir: astro.outDir, ...web, ...(launcher && { launcher }) }) }),
    planFile(root, { path: ecosystemName, content: ecosystemText(ecosystemName) }),
    planFile(root, { path: 'bin/start-pm2', content: frontScript('start'), mode: 0o755 }),
    planFile(root, { path: 'bin/stop-pm2', content: frontScript('stop'), mode: 0o755 }),
  ]);
  // The kit prefers ecosystem.config.js when both exist, and PM2 could not load that one.
  const aside = esm ? planAside(root, 'ecosystem.config.js') : undefined;
  if (aside) changes.push(aside);

  const pm2Version = !dependsOn(pkg.json, 'pm2') ? await kitDependencyVersion('pm2') : undefined;
  const gitignoreFile = path.join(root, '.gitignore');
  const gitignoreText = await readFile(gitignoreFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  const gitignore = withIgnored(gitignoreText, ignoredByKit);

  const launcherNote = launcher ? ` (agents.launcher: bin/mh stays the agents' launcher, run as ${launcher.start} and ${launcher.stop})` : '';
  const plan = [
    ...changes.flatMap((change) => describe(change, ecosystemName, change.path === configFileName ? launcherNote : '')),
    ...(pm2Version ? [`add pm2 ${pm2Version} to devDependencies in package.json`] : []),
    ...(gitignore.added.length > 0 ? [`add ${gitignore.added.join(', ')} to .gitignore${gitignoreText === undefined ? ' (a new file)' : ''}`] : []),
  ];
  const result: InitResult = {
    root,
    site: { dir: site.dir, relative: site.relative, astroConfig: astro.file, outDir: astro.outDir },
    appName: web.name,
    agents: launcher ? 'launcher' : 'list',
    ecosystemFile: ecosystemName,
    plan,
    written: [],
    keptAsOrig: [],
    cancelled: false,
    nextSteps: [
      { command: 'pnpm install', why: pm2Version ? 'install pm2 (added to package.json)' : 'make sure pm2 and the kit are installed' },
      { command: './bin/start-pm2', why: `build the site and start it on every core at http://127.0.0.1:${web.port}` },
      { command: `pnpm exec pm2 reload ${web.name}`, why: 'reload the workers one by one, without downtime' },
      { command: './bin/stop-pm2', why: "stop the kit's workers and agents" },
    ],
  };

  if (plan.length > 0 && !options.yes) {
    if (!options.confirm) {
      throw errors.usage(
        `init would make these changes, and there is no terminal to confirm them:\n${plan.map((line) => `  - ${line}`).join('\n')}`,
        'Pass --yes to make them without asking.',
      );
    }
    if (!(await options.confirm(plan))) return { ...result, cancelled: true };
  }

  for (const change of changes) {
    await applyFile(root, change);
    if (change.aside) result.keptAsOrig.push({ file: change.path, orig: change.aside });
    if (change.action === 'write') result.written.push(change.path);
    reportChange(change, report, change.path === configFileName ? launcherNote : '');
  }
  if (pm2Version) {
    await writeFileAtomic(pkg.file, withDevDependency(pkg.text, 'pm2', pm2Version));
    result.written.push('package.json');
    report.done(`added pm2 ${pm2Version} to devDependencies in package.json: run pnpm install`);
  } else {
    report.done('package.json is up to date (it has pm2)');
  }
  if (gitignore.added.length > 0) {
    await writeFileAtomic(gitignoreFile, gitignore.text);
    result.written.push('.gitignore');
    report.done(`added ${gitignore.added.join(', ')} to .gitignore`);
  } else {
    report.done('.gitignore is up to date');
  }
  if (!dependsOn(pkg.json, 'astro-cluster-kit')) {
    report.warn('package.json does not list astro-cluster-kit: add it (pnpm add -D astro-cluster-kit), bin/start-pm2 runs node_modules/.bin/astro-cluster');
  }
  return result;
}

/** The version range the kit itself depends on, so the project's pm2 and the kit's agree. */
async function kitDependencyVersion(name: string): Promise<string> {
  const kit = JSON.parse(await readFile(path.join(kitPackageRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const version = kit.dependencies?.[name];
  if (!version) throw new Error(`the kit's package.json (${kitPackageRoot}) does not depend on ${name}`);
  return version;
}

/** One plan line per change; `note` says more about what a written file holds. */
function describe(change: FileChange, ecosystemName: string, note = ''): string[] {
  switch (change.action) {
    case 'write':
      return [change.aside ? `write ${change.path}${note} (the one there now is kept as ${change.aside})` : `write ${change.path}${note}`];
    case 'chmod':
      return [`make ${change.path} executable`];
    case 'move-aside':
      return [`rename ${change.path} to ${change.aside} (this package is "type": "module", so PM2 cannot require() it; the kit uses ${ecosystemName})`];
    case 'none':
      return [];
  }
}

function reportChange(change: FileChange, report: Reporter, note = ''): void {
  switch (change.action) {
    case 'write':
      if (change.aside) report.warn(`kept your ${change.path} as ${change.aside}`);
      report.done(`wrote ${change.path}${note}`);
      return;
    case 'chmod':
      report.done(`made ${change.path} executable`);
      return;
    case 'move-aside':
      report.warn(`kept your ${change.path} as ${change.aside}: in a "type": "module" package PM2 cannot load it`);
      return;
    case 'none':
      report.done(`${change.path} is up to date`);
      return;
  }
}
