/** Minimal flag parsing: `--key value`, `--key=value`, `--flag`, `--no-flag`; positionals in `_`. */
export type Args = { _: string[] } & Record<string, string | boolean | string[]>;

export function parseArgs(argv: string[], booleans: readonly string[] = []): Args {
  const out: Args = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      out[a.slice(2, eq)] = a.slice(eq + 1);
    } else if (a.startsWith('--no-')) {
      out[a.slice(5)] = false;
    } else if (booleans.includes(a.slice(2)) || i + 1 >= argv.length || argv[i + 1].startsWith('--')) {
      out[a.slice(2)] = true;
    } else {
      out[a.slice(2)] = argv[++i];
    }
  }
  return out;
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
