import { init } from '../device/index.js';
import { modelTable, formatTable } from '../models/index.js';
import { bool, num, type Args } from './args.js';

export async function modelsCommand(args: Args): Promise<number> {
  await init();
  const rows = modelTable(num(args, 'classes', 10));
  process.stdout.write(bool(args, 'json') ? `${JSON.stringify(rows, null, 2)}\n` : `${formatTable(rows)}\n`);
  return 0;
}
