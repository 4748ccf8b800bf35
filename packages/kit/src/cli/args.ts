import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errors } from '../core/index.cjs';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into usage errors that name the command's help. */
export function parseCommandArgs<T extends Options>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw errors.usage(`${command}: ${(error as Error).message}`, `Run ${command} --help for usage.`);
  }
}
