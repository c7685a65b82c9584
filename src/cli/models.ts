import { init } from '../device/index.js';
import { modelTable, formatTable, type ResNetArch } from '../models/index.js';
import { bool, num, optStr, UsageError, type Args } from './args.js';

/**
 * --arch of train / sweep / profile (and models): 'cifar', 'imagenet' or 'auto'; undefined when absent (the
 * model's default, 'auto': decided from the input size). `allowAuto` false: only the two forms (models).
 * eval has no --arch: it rebuilds the form its checkpoint records ('cifar' for files written before).
 */
export function archFromArgs(args: Args, allowAuto = true): ResNetArch | 'auto' | undefined {
  const arch = optStr(args, 'arch');
  if (arch === undefined) return undefined;
  if (arch === 'cifar' || arch === 'imagenet' || (allowAuto && arch === 'auto')) return arch;
  throw new UsageError(`--arch must be ${allowAuto ? 'cifar, imagenet or auto' : 'cifar or imagenet'}, got '${arch}'`);
}

export async function modelsCommand(args: Args): Promise<number> {
  const arch = (archFromArgs(args, false) ?? 'cifar') as ResNetArch;
  await init();
  const rows = modelTable(num(args, 'classes', 10), { arch });
  process.stdout.write(bool(args, 'json') ? `${JSON.stringify(rows, null, 2)}\n` : `${formatTable(rows)}\n`);
  return 0;
}
