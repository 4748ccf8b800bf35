/** What the kit writes into the project and git should not track: logs and locks, built releases. */
export const ignoredByKit = ['logs/', '.astro-cluster/'];

/**
 * `.gitignore` text with the lines of `wanted` it lacks appended (a line
 * that ignores the same folder, such as `/logs` or `logs/*` for `logs/`,
 * counts as there); the rest is kept as it is.
 */
export function withIgnored(text: string | undefined, wanted: string[]): { text: string; added: string[] } {
  const current = text ?? '';
  const present = new Set(current.split(/\r?\n/).map(folderOf));
  const added = wanted.filter((line) => !present.has(folderOf(line)));
  if (added.length === 0) return { text: current, added };
  const newline = current.includes('\r\n') ? '\r\n' : '\n';
  const separator = current === '' || current.endsWith('\n') ? '' : newline;
  return { text: `${current}${separator}${added.join(newline)}${newline}`, added };
}

/** `logs`, `/logs`, `logs/`, `/logs/` and `logs/*` (which lets `!logs/.gitkeep` through) all ignore the folder logs at the root. */
function folderOf(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/(\*{1,2})?$/, '');
}
