#!/usr/bin/env node
// The `onelayer` command. Each subcommand lives in its own module, loaded on demand.
import { parseCommandArgs, UsageError } from './args.js';
import { commandHelp } from './options.js';

const HELP = `onelayer — shared-weight CNN training on WebGPU

usage: onelayer <command> [options]

  info                                   the WebGPU adapter: vendor, architecture, software/hardware, limits, features
  models   [--classes 10] [--arch A]     parameter table of every model and its compression factor C
  train    --model M [--width N] [--dataset mnist|fashion-mnist|cifar10|cifar100|tiny-imagenet|imagefolder|imagenet] [--data PATH]
           [--epochs E] [--batch-size B] [--lr LR] [--momentum 0.9] [--weight-decay 5e-4] [--nesterov]
           [--schedule cosine|step|constant] [--warmup STEPS] [--stem pad|conv] [--arch cifar|imagenet|auto] [--no-augment] [--seed S]
           --out RUN_DIR [--resume | --overwrite] [--require-hardware] [--max-steps-per-epoch K] [--quiet] [--no-compile]
  eval     --checkpoint FILE [--dataset D] [--data PATH] [--batch-size B]
  profile  --model M [--width N] [--steps 5] [--batch-size 32] [--trace trace.json] [--arch A] [--no-compile]
  sweep    --models a,b,c --widths 32,64 --dataset D --epochs E --out DIR [--overwrite] [--queue redis://HOST:PORT [--redis-timeout MS]]
  worker   --queue redis://HOST:PORT [--queue-name N] [--out-dir DIR] [--redis-timeout MS]
  blends   --checkpoint FILE --out DIR
  prune    --checkpoint FILE [--fractions 0,0.1,...,0.9] [--per-layer] [--baselines SWEEP_DIR] [--out DIR]

'onelayer <command> --help' lists a command's options.
Node finds a GPU through its Vulkan driver; without one it uses SwiftShader ('apt-get install -y chromium libvulkan1').
`;

async function main(argv: string[]): Promise<number> {
  let [command, ...rest] = argv;
  if (command === 'help' && rest.length > 0) [command, rest] = [rest[0], ['--help']];
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  const args = parseCommandArgs(command, rest);
  if (args.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  switch (command) {
    case 'info':
      return (await import('./info.js')).infoCommand(args);
    case 'models':
      return (await import('./models.js')).modelsCommand(args);
    case 'train':
      return (await import('./train.js')).trainCommand(args);
    case 'eval':
      return (await import('./train.js')).evalCommand(args);
    case 'profile':
      return (await import('./profile.js')).profileCommand(args);
    case 'sweep':
    case 'worker':
    case 'blends':
    case 'prune':
      return (await import('./analysis.js')).analysisCommand(command, args);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`onelayer: ${err.message}\n`);
      process.exit(2);
    }
    const e = err as Error;
    process.stderr.write(`${e?.message ?? String(err)}\n`);
    if (process.env.ONELAYER_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  },
);
