import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AstroIntegration } from 'astro';

/**
 * Gives every build an id, baked into the pages as `import.meta.env.BUILD_ID`
 * and written to `<outDir>/build.json`, where the web worker reads it for
 * /healthz. Deploys compare it to know that every worker runs the new build.
 */
export function buildInfo(): AstroIntegration {
  const id = `${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}-${randomBytes(3).toString('hex')}`;
  let outDir: URL;
  return {
    name: 'kit:build-info',
    hooks: {
      'astro:config:setup': ({ updateConfig }) => {
        updateConfig({ vite: { define: { 'import.meta.env.BUILD_ID': JSON.stringify(id) } } });
      },
      'astro:config:done': ({ config }) => {
        outDir = config.outDir;
      },
      'astro:build:done': async ({ logger }) => {
        const info = { id, builtAt: new Date().toISOString() };
        await writeFile(new URL('build.json', outDir), `${JSON.stringify(info, null, 2)}\n`);
        logger.info(`build id ${id}`);
      },
    },
  };
}
