import { parseArgs as parseNodeArgs } from 'node:util';
import { COMMANDS, nearest } from './options.js';

/** Parsed flags of one command (kebab-case names as on the command line); `_` holds the command itself. */
export type Args = { _: string[] } & Record<string, string | boolean | string[]>;

/**
 * Strict parsing against the command's option table (src/cli/options.ts): an unknown flag, a missing value or a
 * stray argument is a UsageError that names it and suggests the nearest valid flag. `--help` sets args.help.
 */
export function parseCommandArgs(command: string, argv: string[]): Args {
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command '${command}'${hint(command, Object.keys(COMMANDS), '')}`);
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type };
  const valid = Object.keys(spec.options);
  let parsed;
  try {
    parsed = parseNodeArgs({ args: argv, options, strict: true, allowPositionals: false, allowNegative: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const flag = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1] ?? '';
    const bare = flag.replace(/^-+(no-)?/, '');
    switch (err.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown flag ${flag} for 'onelayer ${command}'${hint(bare, valid, '--')} (see onelayer ${command} --help)`);
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ''} for 'onelayer ${command}': every option is a --flag (see onelayer ${command} --help)`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        if (flag && spec.options[bare]?.type === 'boolean') throw new UsageError(`${flag} is a flag and takes no value (use ${flag} or --no-${bare})`);
        throw new UsageError(`${flag || 'an option'} needs a value${flag.startsWith('--') ? `: ${flag} VALUE, or ${flag}=-VALUE for a value that starts with '-'` : ''}`);
      default:
        throw new UsageError(err.message);
    }
  }
  const args: Args = { _: [command] };
  for (const [k, v] of Object.entries(parsed.values)) if (v !== undefined) args[k] = v as string | boolean;
  return args;
}

function hint(name: string, valid: readonly string[], prefix: string): string {
  const near = nearest(name, valid);
  return near ? ` (did you mean ${prefix}${near}?)` : '';
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function str(args: Args, key: string, fallback?: string): string {
  const v = args[key];
  if (v === undefined || v === true || v === false) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`missing --${key}`);
  }
  return String(v);
}

export function optStr(args: Args, key: string): string | undefined {
  const v = args[key];
  return typeof v === 'string' ? v : undefined;
}

export function num(args: Args, key: string, fallback?: number): number {
  const v = args[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`missing --${key}`);
  }
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new UsageError(`--${key} needs a number, got '${String(v)}'`);
  return n;
}

export function optNum(args: Args, key: string): number | undefined {
  return args[key] === undefined ? undefined : num(args, key);
}

export function bool(args: Args, key: string, fallback = false): boolean {
  const v = args[key];
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`--${key} is a flag, got '${v}'`);
}

export function list(args: Args, key: string, fallback?: string[]): string[] {
  const v = optStr(args, key);
  if (v === undefined) {
    if (fallback) return fallback;
    throw new UsageError(`missing --${key}`);
  }
  return v.split(',').map((s) => s.trim()).filter((s) => s);
}
