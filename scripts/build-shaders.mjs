#!/usr/bin/env node
// Writes shaders/NAME.wgsl for every source shaders/src/NAME.wgsl (see scripts/wgsl-compose.mjs for the format).
//   node scripts/build-shaders.mjs           rewrite the generated kernels that changed (npm run build:shaders)
//   node scripts/build-shaders.mjs --check   write nothing; exit 1 naming every generated kernel that is stale
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ComposeError, GENERATED_MARK, SHADERS_DIR, composeAll } from './wgsl-compose.mjs';

const check = process.argv.includes('--check');
let kernels;
try {
  kernels = composeAll();
} catch (e) {
  if (e instanceof ComposeError) {
    console.error(`build-shaders: ${e.message}`);
    process.exit(1);
  }
  throw e;
}

const stale = [];
for (const [file, text] of kernels) {
  const path = join(SHADERS_DIR, file);
  const old = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (old === text) continue;
  if (old !== null && !old.startsWith(GENERATED_MARK)) {
    console.error(`build-shaders: shaders/${file} is hand-written (no GENERATED line) but shaders/src/${file} exists; remove one of them`);
    process.exit(1);
  }
  stale.push(file);
  if (!check) writeFileSync(path, text);
}
// A generated kernel whose source is gone.
const orphans = readdirSync(SHADERS_DIR).filter(
  (f) => f.endsWith('.wgsl') && !kernels.has(f) && readFileSync(join(SHADERS_DIR, f), 'utf8').startsWith(GENERATED_MARK),
);
for (const f of orphans) console.error(`build-shaders: shaders/${f} is generated but shaders/src/${f} does not exist; delete it`);

if (check) {
  for (const f of stale) console.error(`build-shaders: shaders/${f} is stale: run npm run build:shaders`);
  process.exit(stale.length || orphans.length ? 1 : 0);
}
console.log(stale.length ? `build-shaders: wrote ${stale.map((f) => `shaders/${f}`).join(', ')}` : `build-shaders: ${kernels.size} kernels up to date`);
process.exit(orphans.length ? 1 : 0);
