// The CLI's strict parser: unknown flags are errors with a suggestion, values are checked, every command has
// --help, and every flag the command code reads is declared in its table (src/cli/options.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, UsageError } from '../src/cli/args.js';
import { COMMANDS, commandHelp, nearest } from '../src/cli/options.js';
import { trainConfigFromArgs } from '../src/cli/train.js';
import { ROOT } from './cli-build.js';

const usage = (command: string, argv: string[]): string => {
  try {
    parseCommandArgs(command, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`${command} ${argv.join(' ')} was accepted`);
};

describe('CLI parsing', () => {
  it('refuses unknown flags and suggests the nearest one', () => {
    expect(usage('train', ['--model', 's-vgg16', '--batchsize', '16'])).toMatch(/unknown flag --batchsize .*did you mean --batch-size\?/);
    expect(usage('train', ['--epoch', '1'])).toMatch(/did you mean --epochs\?/);
    expect(usage('eval', ['--checkpont', 'x'])).toMatch(/did you mean --checkpoint\?/);
    expect(usage('train', ['--zzzzzzzz', '1'])).not.toMatch(/did you mean/);
    expect(usage('trian', [])).toMatch(/unknown command 'trian' \(did you mean train\?\)/);
  });

  it('checks values: booleans take none, strings need one, no stray arguments', () => {
    expect(usage('train', ['--nesterov=1'])).toMatch(/--nesterov is a flag and takes no value/);
    expect(usage('train', ['--epochs'])).toMatch(/--epochs needs a value/);
    expect(usage('train', ['--lr', '-1'])).toMatch(/--lr needs a value.*--lr=-VALUE/);
    expect(usage('train', ['extra'])).toMatch(/unexpected argument extra/);
    const args = parseCommandArgs('train', ['--model', 's-vgg16', '--width', '8', '--no-augment', '--nesterov', '--lr=-1']);
    expect(args).toMatchObject({ model: 's-vgg16', width: '8', augment: false, nesterov: true, lr: '-1' });
    expect(() => trainConfigFromArgs(args)).toThrow(/--lr must be a number ≥ 0, got '-1'/);
    expect(() => trainConfigFromArgs(parseCommandArgs('train', ['--model', 's-vgg16', '--epochs', '2.5']))).toThrow(/--epochs must be an integer ≥ 1, got '2\.5'/);
    expect(() => trainConfigFromArgs(parseCommandArgs('train', ['--model', 's-vgg16', '--resume', '--overwrite']))).toThrow(/contradict/);
    // The image cache belongs to image folders, is passed through, and is not a setting of the run.
    expect(() => trainConfigFromArgs(parseCommandArgs('train', ['--model', 's-vgg16', '--image-cache', '/tmp/c']))).toThrow(/--image-cache applies to --dataset imagefolder or imagenet only/);
    expect(trainConfigFromArgs(parseCommandArgs('train', ['--model', 's-vgg16', '--dataset', 'imagefolder', '--data', 'd', '--image-cache', '/tmp/c'])).imageCache).toBe('/tmp/c');
  });

  it('renders --help for every command from its table', () => {
    for (const command of Object.keys(COMMANDS)) {
      expect(parseCommandArgs(command, ['--help']).help).toBe(true);
      const text = commandHelp(command);
      for (const [name, o] of Object.entries(COMMANDS[command].options)) expect(text).toContain(o.type === 'boolean' && o.defaultOn ? `--no-${name}` : `--${name}`);
    }
  });

  it('declares every flag the command code reads', () => {
    const files = ['src/cli/train.ts', 'src/cli/profile.ts', 'src/cli/info.ts', 'src/cli/models.ts', 'src/cli/analysis.ts'];
    const declared = new Set(Object.values(COMMANDS).flatMap((c) => Object.keys(c.options)));
    const read = new Set<string>();
    for (const f of files) for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/\b(?:str|num|optNum|optStr|bool|list|ranged)\(args, '([a-z-]+)'/g)) read.add(m[1]);
    expect(read.size).toBeGreaterThan(30);
    expect([...read].filter((f) => !declared.has(f))).toEqual([]);
  });

  it('nearest() only suggests close names', () => {
    expect(nearest('batchsize', ['batch-size', 'epochs'])).toBe('batch-size');
    expect(nearest('lr', ['lr', 'seed'])).toBe('lr');
    expect(nearest('completely-different', ['lr', 'seed'])).toBeUndefined();
  });
});
