// Node side of the parity test: runs demo/src/parity-case.ts on Dawn (through Vite's SSR module runner, so the
// TypeScript sources are used as they are, like vitest does) and prints the result as JSON on stdout.
import { fileURLToPath } from 'node:url';
import { createServer, createServerModuleRunner } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));
try {
  const server = await createServer({ root, configFile: false, logLevel: 'error', appType: 'custom', server: { middlewareMode: true, hmr: false, ws: false } });
  const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
  const module = await runner.import('/demo/src/parity-case.ts');
  const result = await module.runParityCase();
  // Exit only once the line is written: a pipe takes 64 KiB at a time, and exiting earlier truncates it.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
} catch (e) {
  process.stderr.write(`parity-node: ${e?.stack ?? e}\n`);
  process.exit(1);
}
