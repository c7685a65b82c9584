import { UsageError, type Args } from './args.js';

export async function analysisCommand(command: string, args: Args): Promise<number> {
  const c = await import('../analysis/commands-node.js');
  switch (command) {
    case 'sweep':
      return c.sweepCommand(args);
    case 'worker':
      return c.workerCommand(args);
    case 'blends':
      return c.blendsCommand(args);
    case 'prune':
      return c.pruneCommand(args);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}
