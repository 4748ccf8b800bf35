import { readFile } from 'node:fs/promises';
import { errors } from '../../core/index.cjs';

/** The parts of a package.json that init reads. */
export interface PackageJson {
  type?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface PackageFile {
  file: string;
  text: string;
  json: PackageJson;
}

/** A package.json's text and content; undefined when there is none. */
export async function readPackageFile(file: string, root: string): Promise<PackageFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw errors.notAstroProject(root, `${file} is not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw errors.notAstroProject(root, `${file} is not a JSON object`);
  return { file, text, json: json as PackageJson };
}

/** Whether the package depends on `name` (for running or for building: either list counts). */
export function dependsOn(json: PackageJson, name: string): boolean {
  return Boolean(json.dependencies?.[name] ?? json.devDependencies?.[name]);
}

/**
 * `text` with `name@version` added to devDependencies, everything else as
 * it was: key order, indentation, line endings, final newline. Inserted in
 * alphabetical place when the list is sorted (as pnpm keeps it), else last.
 */
export function withDevDependency(text: string, name: string, version: string): string {
  const json = JSON.parse(text) as Record<string, unknown>;
  const current = (json.devDependencies ?? {}) as Record<string, string>;
  const names = Object.keys(current);
  const sorted = names.every((key, i) => i === 0 || names[i - 1]!.localeCompare(key) <= 0);
  const at = sorted ? names.filter((key) => key.localeCompare(name) < 0).length : names.length;
  const entries = Object.entries(current);
  entries.splice(at, 0, [name, version]);
  json.devDependencies = Object.fromEntries(entries);

  const indent = /^[ \t]+(?=")/m.exec(text)?.[0] ?? '  ';
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const body = JSON.stringify(json, null, indent).replace(/\n/g, newline);
  return /\r?\n$/.test(text) || text === '' ? `${body}${newline}` : body;
}
