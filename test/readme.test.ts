import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// The README's API example must keep working: run it exactly as written, against src/.
describe('README', () => {
  it('the 20-line API example runs and prints a finite loss', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /## The API in 20 lines[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README has the API example').not.toBeNull();
    const code = block![1].replace(/from 'onelayer'/g, `from '${join(root, 'src/index.ts')}'`);
    const dir = join(root, 'node_modules/.cache/readme-test');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'example.ts');
    writeFileSync(file, code);
    const logged: unknown[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => logged.push(...a);
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      console.log = orig;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(logged.length).toBe(1);
    expect(Number.isFinite(logged[0] as number)).toBe(true);
  });
});
