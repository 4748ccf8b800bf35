import { isKitError, type Reporter } from '../core/index.cjs';

const tty = process.stdout.isTTY === true;
const paint = (code: string) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = paint('1');
export const dim = paint('2');
const green = paint('32');
const red = paint('31');
const yellow = paint('33');
const cyan = paint('36');

/** Prints a Reporter's events for a person; progress overwrites itself on a terminal. */
export function terminalReporter(): Reporter {
  let progressShown = false;
  const line = (text: string) => {
    if (progressShown && tty) process.stdout.write('\r\x1b[2K');
    progressShown = false;
    console.log(text);
  };
  return {
    step: (text) => line(`${cyan('▸')} ${text}`),
    done: (text) => line(`${green('✓')} ${text}`),
    warn: (text) => line(`${yellow('!')} ${text}`),
    output: (text) => line(dim(`  │ ${text}`)),
    progress: (text) => {
      if (!tty) return line(`  … ${text}`);
      process.stdout.write(`\r\x1b[2K  … ${text}`);
      progressShown = true;
    },
  };
}

/**
 * Runs a command's body and turns its outcome into an exit code: 0 on
 * success, 2 for a usage error, 1 for anything else, always with the cause.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<never> {
  try {
    process.exit((await body()) ?? 0);
  } catch (error) {
    if (tty) process.stdout.write('\r\x1b[2K');
    if (isKitError(error)) {
      console.error(`${red('✗')} ${error.message}`);
      if (error.hint) console.error(`  ${error.hint}`);
      console.error(dim(`  (${error.code})`));
      process.exit(error.code === 'KIT_USAGE' ? 2 : 1);
    }
    console.error(`${red('✗')} unexpected error:`, error);
    process.exit(1);
  }
}
