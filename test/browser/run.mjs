// Browser tests (`npm run test:browser`): builds the demo, serves demo/dist on 127.0.0.1 and drives real Chromium
// (WebGPU on SwiftShader) with playwright-core: Node/Chromium parity, then the demo page as a user drives it
// (app.mjs: keyboard, training, pause/resume, profiler, charts, blends, 390-px layout; checkpoints.mjs: checkpoints,
// device loss, bad files, a second run, Tiny ImageNet; runs.mjs: runs kept across a reload, compared, exported and
// imported). Prints "N passed, M failed".
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { compareParity } from './checks.mjs';
import { appTests } from './app.mjs';
import { checkpointTests } from './checkpoints.mjs';
import { runTests } from './runs.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = `${root}demo/dist`;
const shots = `${root}test/browser/screenshots`;
const started = Date.now();
const results = [];
const secs = () => ((Date.now() - started) / 1000).toFixed(0);

function run(cmd, args) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

async function test(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    results.push({ name, ok: true });
    console.log(`ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${note ? `: ${note}` : ''}`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${e?.message ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// The Node side of the parity test runs on Dawn while Vite builds (it needs neither the build nor Chromium).
const nodeParity = run(process.execPath, ['test/browser/parity-node.mjs']);

await test('vite build of demo/', async () => {
  const r = await run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'demo', '--logLevel', 'warn']);
  assert(r.code === 0, `vite build failed (exit ${r.code}):\n${r.err.slice(-3000)}`);
});

await test('bundle: every kernel is a .wgsl asset, no Node/Dawn imports', async () => {
  const registry = await readFile(`${root}src/gpu/registry.ts`, 'utf8');
  const list = /KERNELS\s*=\s*\[([\s\S]*?)\]/.exec(registry)?.[1] ?? '';
  const kernels = [...list.matchAll(/'([a-z0-9_]+)'/g)].map((m) => m[1]);
  assert(kernels.length > 5, `could not read KERNELS from src/gpu/registry.ts (${kernels.length} names)`);
  const assets = await readdir(`${dist}/assets`);
  const missing = kernels.filter((k) => !assets.some((a) => a.startsWith(`${k}-`) && a.endsWith('.wgsl')));
  assert(missing.length === 0, `no .wgsl asset for ${missing.join(', ')}`);
  const bad = [];
  for (const a of assets.filter((f) => f.endsWith('.js'))) {
    const src = await readFile(`${dist}/assets/${a}`, 'utf8');
    const hit = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["'`](node:[^"'`]*|webgpu|fs|path|url)["'`]/.exec(src) ?? /dawn\.node/i.exec(src);
    if (hit) bad.push(`${a}: ${hit[0]}`);
  }
  assert(bad.length === 0, `Node-only imports in the browser bundle: ${bad.join('; ')}`);
  return `${kernels.length} kernels, ${assets.filter((f) => f.endsWith('.js')).length} JS chunks clean`;
});

const server = await serve(dist);
const HOST_ALIAS = 'onelayer-insecure.test';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--use-webgpu-adapter=swiftshader',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    // A non-loopback host name for the same server: an insecure context, where navigator.gpu does not exist.
    `--host-resolver-rules=MAP ${HOST_ALIAS} 127.0.0.1`,
  ],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
context.setDefaultTimeout(120_000);
const errors = [];

try {
  await test('no WebGPU: the page says so and how to enable it', async () => {
    const page = await context.newPage();
    await page.goto(`http://${HOST_ALIAS}:${server.port}/`);
    await page.waitForSelector('#fatal:not([hidden])', { timeout: 30_000 });
    const text = await page.textContent('#fatal');
    assert(/navigator\.gpu is missing/.test(text), `fatal message lacks the cause: ${text}`);
    assert(/secure context/.test(text) && /enable-unsafe-webgpu/.test(text), `fatal message lacks how to enable WebGPU: ${text}`);
    assert(await page.isDisabled('#start'), 'Start is enabled without WebGPU');
    await page.close();
  });

  await test('parity: Node (Dawn) and Chromium give the same loss and gradients (error ≤ 1e-5 of each module’s gradient scale)', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`parity page: ${e.message}`));
    await page.goto(`${server.url}parity.html`);
    await page.waitForFunction(() => window.parityResult || window.parityError, null, { timeout: 180_000 });
    const err = await page.evaluate(() => window.parityError);
    assert(!err, `Chromium side failed: ${err}`);
    const web = await page.evaluate(() => window.parityResult);
    await page.close();
    const n = await nodeParity;
    assert(n.code === 0, `Node side failed (exit ${n.code}): ${n.err.slice(-2000)}`);
    const node = JSON.parse(n.out.trim().split('\n').pop());
    const r = compareParity(node, web, 1e-5);
    assert(r.ok, r.problems.join('; '));
    return `loss ${node.loss.toFixed(6)} vs ${web.loss.toFixed(6)}, max gradient error ${r.maxGradError.toExponential(2)} over ${r.tensors} tensors (${web.platform} vs ${node.platform})`;
  });

  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`demo page: ${e.message}`));
  await appTests({ page, server, test, assert, shots });
  await checkpointTests({ page, test, assert });
  await runTests({ page, test, assert });

  await test('no uncaught page errors', async () => {
    assert(errors.length === 0, errors.join('; '));
  });
} finally {
  await browser.close().catch(() => undefined);
  await server.close();
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`\n${passed} passed, ${failed} failed (${secs()} s)`);
process.exit(failed ? 1 : 0);
