// Tests that run the `onelayer` CLI as a child process (kill -9 tests, exit codes) need compiled JavaScript of the
// current sources. They compile src/ once into node_modules/.cache/onelayer-cli (not dist/, which `npm run build`
// owns), beside a link to shaders/, and reuse that build while no source file changed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'onelayer-cli');

function sourceStamp(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.ts')) h.update(`${p}\0${st.size}\0${st.mtimeMs}\0`);
    }
  };
  walk(join(ROOT, 'src'));
  h.update(readFileSync(join(ROOT, 'tsconfig.json')));
  return h.digest('hex');
}

/** Path of the compiled CLI entry point (src/cli/main.ts), compiling first when the sources changed. */
export function cliPath(): string {
  const main = join(CACHE, 'dist', 'cli', 'main.js');
  const stampFile = join(CACHE, 'stamp');
  const stamp = sourceStamp();
  if (existsSync(main) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return main;
  mkdirSync(CACHE, { recursive: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', join(CACHE, 'dist'), '--declaration', 'false', '--sourceMap', 'false'], { stdio: 'pipe' });
  // src/gpu/shaders.ts finds shaders at ../../shaders from its compiled file.
  if (!existsSync(join(CACHE, 'shaders'))) symlinkSync(join(ROOT, 'shaders'), join(CACHE, 'shaders'));
  writeFileSync(join(CACHE, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(stampFile, stamp);
  return main;
}
