// A throwaway pnpm repo shaped like a real user's Astro site, for the
// adoption test: a workspace with its own package (packages/core) that the
// site (apps/web, a plain @astrojs/node standalone site) imports, middleware,
// a prerendered page, a public file, its own /api/tasks, Server-Sent Events
// through the kit's `astro-cluster-kit/events`, and Astro sessions through the
// kit's driver. Nothing here knows about PM2: `astro-cluster init` adds that.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, type RepoEnv } from './shell.js';

export type AstroMajor = 5 | 6 | 7;

/** Pinned pairs, as the registry had them (FACTS.md): each @astrojs/node major fits one Astro major. */
export const astroVersions: Record<AstroMajor, { astro: string; node: string; minNode: string }> = {
  5: { astro: '5.18.2', node: '9.5.5', minNode: '18.20.8' },
  6: { astro: '6.4.8', node: '10.1.4', minNode: '22.12.0' },
  7: { astro: '7.3.5', node: '11.1.6', minNode: '22.12.0' },
};

/** The session cookie Astro sets by default. */
export const sessionCookie = 'astro-session';

export interface FixtureOptions {
  astroMajor: AstroMajor;
  /** The packed kit (astro-cluster-kit-<version>.tgz), outside the repo. */
  kitTarball: string;
}

/**
 * Writes the repo into `repo` (an empty folder), then `git init` and a first
 * commit. The kit is not installed yet: the caller does what the README tells
 * a user, `pnpm add -D -w ./astro-cluster-kit-<version>.tgz`.
 */
export async function writeFixture(repo: string, { astroMajor, kitTarball }: FixtureOptions, env: RepoEnv): Promise<void> {
  const versions = astroVersions[astroMajor];
  const web = path.join(repo, 'apps', 'web');
  const files: Record<string, string> = {
    // No "packageManager": pnpm would otherwise try to switch to that version.
    'package.json': json({
      name: 'adoption-fixture',
      version: '0.0.0',
      private: true,
      scripts: { build: 'pnpm --filter web build' },
    }),
    'pnpm-workspace.yaml': [
      'packages:',
      '  - apps/*',
      '  - packages/*',
      '',
      '# Install scripts run only when allowed: pnpm 11+ reads allowBuilds,',
      '# pnpm 10 onlyBuiltDependencies.',
      'allowBuilds:',
      '  esbuild: true',
      '  sharp: false',
      'onlyBuiltDependencies:',
      '  - esbuild',
      '',
    ].join('\n'),
    '.gitignore': ['node_modules', 'dist', '.astro', ''].join('\n'),
    'README.md': '# A site\n\nAn Astro site in a pnpm workspace.\n',

    'packages/core/package.json': json({
      name: 'core',
      version: '1.0.0',
      private: true,
      type: 'module',
      exports: { '.': './index.js' },
    }),
    'packages/core/index.js': [
      '/** The workspace package the site imports. */',
      'export function greet(name) {',
      '  return `Hello, ${name}!`;',
      '}',
      '',
    ].join('\n'),

    'apps/web/package.json': json({
      name: 'web',
      version: '0.0.0',
      private: true,
      type: 'module',
      scripts: { build: 'astro build', dev: 'astro dev' },
      dependencies: {
        '@astrojs/node': versions.node,
        astro: versions.astro,
        // The site imports `astro-cluster-kit/events` and names the session
        // driver `astro-cluster-kit/sessions`, so it declares the kit itself
        // (what `pnpm --filter web add <tgz>` writes): pnpm links it into
        // apps/web/node_modules, where Vite and Node resolve it from the
        // site's files, in dist/ and in the kit's releases alike. Relying on
        // the root's devDependency would work only through Node walking up
        // parent folders, which a release outside the repo's tree would not
        // have. The root gets the same tarball (`pnpm add -D -w`) for the
        // `astro-cluster` CLI; both specifiers name one file, so pnpm installs
        // one copy.
        'astro-cluster-kit': `file:${path.relative(web, kitTarball)}`,
        core: 'workspace:*',
      },
    }),
    'apps/web/astro.config.mjs': [
      "import node from '@astrojs/node';",
      "import { defineConfig } from 'astro/config';",
      '',
      'export default defineConfig({',
      "  output: 'server',",
      "  adapter: node({ mode: 'standalone' }),",
      "  session: { driver: 'astro-cluster-kit/sessions' },",
      '  // Hashed CSS under /_astro/, rather than inlined.',
      "  build: { inlineStylesheets: 'never' },",
      '});',
      '',
    ].join('\n'),
    'apps/web/src/middleware.ts': [
      "import { defineMiddleware } from 'astro:middleware';",
      '',
      'export const onRequest = defineMiddleware(async (_context, next) => {',
      '  const response = await next();',
      '  try {',
      "    response.headers.set('x-site-middleware', 'yes');",
      '    return response;',
      '  } catch {',
      '    // Immutable headers (a fetched or redirect response): copy it.',
      '    const headers = new Headers(response.headers);',
      "    headers.set('x-site-middleware', 'yes');",
      '    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });',
      '  }',
      '});',
      '',
    ].join('\n'),
    'apps/web/src/layouts/Base.astro': [
      '---',
      'interface Props { title: string }',
      'const { title } = Astro.props;',
      '---',
      '<!doctype html>',
      '<html lang="en">',
      '  <head>',
      '    <meta charset="utf-8" />',
      '    <title>{title}</title>',
      '  </head>',
      '  <body>',
      '    <nav><a href="/">Home</a> <a href="/about/">About</a> <a href="/visits">Visits</a></nav>',
      '    <slot />',
      '  </body>',
      '</html>',
      '<style is:global>',
      '  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; }',
      '  nav a { margin-right: 1rem; }',
      '</style>',
      '',
    ].join('\n'),
    'apps/web/src/pages/index.astro': [
      '---',
      "import { greet } from 'core';",
      "import Base from '../layouts/Base.astro';",
      '',
      'export const prerender = false;',
      '---',
      '',
      '<Base title="Home">',
      "  <h1>{greet('cluster')}</h1>",
      '  <p class="lead">Rendered on request.</p>',
      '</Base>',
      '<style>',
      '  .lead { color: #335; }',
      '</style>',
      '',
    ].join('\n'),
    'apps/web/src/pages/about.astro': [
      '---',
      "import Base from '../layouts/Base.astro';",
      '',
      'export const prerender = true;',
      '---',
      '',
      '<Base title="About">',
      '  <h1>About</h1>',
      '  <p>Built once, served as a file.</p>',
      '</Base>',
      '',
    ].join('\n'),
    'apps/web/src/pages/visits.astro': [
      '---',
      "import Base from '../layouts/Base.astro';",
      '',
      'export const prerender = false;',
      '',
      "const visits = (((await Astro.session?.get('visits')) as number | undefined) ?? 0) + 1;",
      "Astro.session?.set('visits', visits);",
      "Astro.response.headers.set('Cache-Control', 'no-store');",
      '---',
      '',
      '<Base title="Visits">',
      '  <p>Visits: <span id="visits">{visits}</span>, served by process <span id="pid">{process.pid}</span>.</p>',
      '</Base>',
      '',
    ].join('\n'),
    'apps/web/src/pages/api/tasks.ts': [
      "import type { APIRoute } from 'astro';",
      '',
      'export const prerender = false;',
      '',
      "/** The site's own /api/tasks: the kit must not shadow it. */",
      "export const GET: APIRoute = () => Response.json({ site: 'own tasks' });",
      '',
    ].join('\n'),
    'apps/web/src/pages/api/feed/[topic].ts': [
      "import type { APIRoute } from 'astro';",
      "import { publish, stream } from 'astro-cluster-kit/events';",
      '',
      'export const prerender = false;',
      '',
      "export const GET: APIRoute = ({ request, params }) => stream(request, params.topic ?? '');",
      '',
      'export const POST: APIRoute = async ({ request, params }) =>',
      "  Response.json(await publish(params.topic ?? '', await request.json()), { status: 201 });",
      '',
    ].join('\n'),
    'apps/web/public/robots.txt': 'User-agent: *\nAllow: /\n',
  };

  for (const [name, text] of Object.entries(files)) {
    const file = path.join(repo, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  }

  await run('git', ['init', '-q'], { cwd: repo, env, timeoutMs: 30_000 });
  await run('git', ['config', 'user.email', 'adoption@example.invalid'], { cwd: repo, env, timeoutMs: 30_000 });
  await run('git', ['config', 'user.name', 'Adoption Test'], { cwd: repo, env, timeoutMs: 30_000 });
  await run('git', ['config', 'commit.gpgsign', 'false'], { cwd: repo, env, timeoutMs: 30_000 });
  await commitAll(repo, env, 'An Astro site');
}

/** `git add -A && git commit` (nothing to commit is fine). */
export async function commitAll(repo: string, env: RepoEnv, message: string): Promise<void> {
  await run('git', ['add', '-A'], { cwd: repo, env, timeoutMs: 60_000 });
  const status = await run('git', ['status', '--porcelain'], { cwd: repo, env, timeoutMs: 60_000 });
  if (status.stdout.trim() === '') return;
  await run('git', ['commit', '-q', '--no-verify', '-m', message], { cwd: repo, env, timeoutMs: 60_000 });
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
