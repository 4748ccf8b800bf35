import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from '../../core/index.cjs';
import { braceDepth, closingParen, readJsSource, type JsSource } from './js-source.js';

/** The config file names Astro looks for, in its order. */
const configNames = ['astro.config.mjs', 'astro.config.js', 'astro.config.cjs', 'astro.config.ts', 'astro.config.mts', 'astro.config.cts'];

export interface AstroConfig {
  file: string;
  /** Astro's outDir as written in the config, or "dist". */
  outDir: string;
  /** Set when the config has an outDir that is not a plain string, so "dist" is a guess. */
  outDirGuessed?: string;
}

/**
 * Checks, without running it, that the site's astro config uses
 * @astrojs/node in standalone mode (the only build the kit's workers can
 * serve), and reads its outDir. Throws KIT_NOT_STANDALONE otherwise.
 */
export async function readAstroConfig(siteDir: string, siteName: string): Promise<AstroConfig> {
  const found = await firstConfig(siteDir);
  if (!found) throw errors.siteNotStandalone(siteName, `it has no astro config (${configNames.join(', ')}), so it builds a static site without the @astrojs/node adapter`);
  const { file, text } = found;
  const name = path.basename(file);
  const source = readJsSource(text);

  const adapters = nodeImports(source.code);
  if (adapters.length === 0) {
    const other = otherAdapter(source.code);
    const why = source.code.includes('@astrojs/node')
      ? `${name} uses @astrojs/node in a way init cannot follow (expected \`import node from '@astrojs/node'\`)`
      : `${name} does not import @astrojs/node${other ? ` (its adapter comes from ${other})` : ''}`;
    throw errors.siteNotStandalone(siteName, why);
  }
  checkModes(source, adapters, name, siteName);
  return { file, ...outDirOf(source) };
}

async function firstConfig(siteDir: string): Promise<{ file: string; text: string } | undefined> {
  for (const name of configNames) {
    const file = path.join(siteDir, name);
    try {
      return { file, text: await readFile(file, 'utf8') };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return undefined;
}

/** The local names @astrojs/node's default export is imported under. */
function nodeImports(code: string): string[] {
  const from = String.raw`\s*from\s*(['"])@astrojs/node\2`;
  const patterns = [
    new RegExp(String.raw`\bimport\s+([A-Za-z_$][\w$]*)\s*(?:,\s*\{[^}]*\})?${from}`, 'g'),
    new RegExp(String.raw`\bimport\s*\{[^}]*?\bdefault\s+as\s+([A-Za-z_$][\w$]*)[^}]*\}${from}`, 'g'),
    new RegExp(String.raw`\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*require\(\s*(['"])@astrojs/node\2\s*\)`, 'g'),
  ];
  return [...new Set(patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1]!)))];
}

/** Another adapter package the config imports, for the message. */
function otherAdapter(code: string): string | undefined {
  return /\bfrom\s*['"]((?:@astrojs\/(?:vercel|netlify|cloudflare|deno))|[^'"]*adapter[^'"]*)['"]/.exec(code)?.[1];
}

/** Every call of the adapter must pass `mode: 'standalone'`, literally. */
function checkModes(source: JsSource, names: string[], name: string, siteName: string): void {
  let calls = 0;
  for (const local of names) {
    const call = new RegExp(String.raw`(?<![\w$.])${local.replace(/\$/g, '\\$')}\s*\(`, 'g');
    for (const match of source.shape.matchAll(call)) {
      const open = match.index + match[0].length - 1;
      const close = closingParen(source.shape, open);
      if (close === -1) continue;
      calls++;
      const args = source.code.slice(open + 1, close - 1);
      const mode = /\bmode\s*:\s*(['"`])([^'"`$]*)\1/.exec(args)?.[2];
      if (mode === 'standalone') continue;
      if (mode === 'middleware') {
        throw errors.siteNotStandalone(
          siteName,
          `${name} uses @astrojs/node in middleware mode. A middleware build is a handler for a server of your own: under the kit it starts and passes /healthz, and then answers 404 to every static file (/_astro/*, public/)`,
          `Set \`adapter: ${local}({ mode: 'standalone' })\` in ${name}; init never edits your site's config.`,
        );
      }
      const why =
        mode !== undefined
          ? `${name} calls ${local}() with mode "${mode}"`
          : /\bmode\b/.test(source.shape.slice(open, close))
            ? `${name} calls ${local}() with a mode init cannot read (write mode: 'standalone' as a literal)`
            : `${name} calls ${local}() without mode: 'standalone'`;
      throw errors.siteNotStandalone(siteName, why);
    }
  }
  if (calls === 0) throw errors.siteNotStandalone(siteName, `${name} imports @astrojs/node but never calls it as the adapter`);
}

/** Astro's top-level `outDir`, when it is a plain string. */
function outDirOf(source: JsSource): { outDir: string; outDirGuessed?: string } {
  for (const match of source.shape.matchAll(/(?<![\w$.])outDir\s*:/g)) {
    if (braceDepth(source.shape, match.index) !== 1) continue; // vite.build.outDir and the like are not Astro's.
    const value = /^\s*(['"`])([^'"`$\\\n]*)\1\s*(?=[,}\n])/.exec(source.code.slice(match.index + match[0].length));
    if (value && value[2]!.trim() !== '') return { outDir: value[2]! };
    const written = source.code.slice(match.index + match[0].length).trim().split(/[,\n]/)[0]!.trim();
    return { outDir: 'dist', outDirGuessed: written };
  }
  return { outDir: 'dist' };
}
