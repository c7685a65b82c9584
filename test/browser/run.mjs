// Browser tests (`npm run test:browser`): builds the demo, serves demo/dist on 127.0.0.1 and drives real Chromium
// (WebGPU on SwiftShader) with playwright-core: Node/Chromium parity, training in the Web Worker, pause/resume,
// charts and blend pictures, checkpoints, error messages, device-loss recovery, the dispatch profiler. Prints "N passed, M failed".
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { compareParity, parseSafetensors } from './checks.mjs';

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
  const total = () => page.evaluate(() => window.onelayerDemo.history().at(-1)?.totalSteps ?? 0);
  const waitSteps = (n, timeout = 120_000) => page.waitForFunction((k) => (window.onelayerDemo.history().at(-1)?.totalSteps ?? 0) >= k, n, { timeout });
  const state = () => page.evaluate(() => window.onelayerDemo.state());
  const messages = (cls) => page.$$eval(`#messages .msg.${cls} span`, (els) => els.map((e) => e.textContent));
  const waitMessage = (cls, re, timeout = 60_000) =>
    page.waitForFunction(([c, src]) => [...document.querySelectorAll(`#messages .msg.${c} span`)].some((e) => new RegExp(src).test(e.textContent)), [cls, re.source], { timeout });
  let checkpoint = null;

  await test('demo loads: adapter, embedded MNIST, parameter count and C', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.getElementById('adapter').textContent.startsWith('WebGPU:'), null, { timeout: 60_000 });
    await page.waitForFunction(() => /mnist: 8,000 train/.test(document.getElementById('dataset-info').textContent), null, { timeout: 90_000 });
    await page.selectOption('#model', 'sl-vgg16');
    await page.fill('#width', '8');
    await page.dispatchEvent('#width', 'change');
    await page.waitForFunction(() => document.getElementById('params').textContent === '1,714', null, { timeout: 30_000 });
    const c = await page.textContent('#compression');
    assert(/^\d+×$/.test(c), `compression factor shown as '${c}'`);
    return `sl-vgg16 n=8: 1,714 parameters, C = ${c}`;
  });

  await test('training runs in the worker and the page stays responsive', async () => {
    await page.fill('#batch', '16');
    await page.fill('#lr', '0.05');
    // More epochs than the tests need: training must still be running when the device-loss test starts, however
    // fast the steps are (compiled steps finished 3 epochs before it); the stop test ends the run.
    await page.fill('#epochs', '10');
    await page.fill('#max-steps', '20');
    await page.fill('#max-eval', '200');
    await page.fill('#blend-every', '5');
    await page.click('#start');
    await waitSteps(6, 180_000);
    let worst = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(1))));
      worst = Math.max(worst, Date.now() - t0);
      await page.waitForTimeout(200);
    }
    assert(worst < 1000, `the page took ${worst} ms to render a frame while training`);
    return `${await total()} steps so far; worst frame round trip ${worst} ms`;
  });

  await test('pause stops the steps, resume continues them', async () => {
    await page.click('#pause');
    await page.waitForFunction(() => window.onelayerDemo.state() === 'paused', null, { timeout: 60_000 });
    const before = await total();
    await page.waitForTimeout(4000);
    const during = await total();
    assert(during === before, `steps advanced while paused: ${before} → ${during}`);
    assert(await page.isEnabled('#resume'), 'Resume is disabled while paused');
    await page.click('#resume');
    await waitSteps(before + 3, 60_000);
    return `paused at ${before} steps for 4 s, then ${await total()}`;
  });

  await test('profile 2 training steps: kernel table and Chrome trace', async () => {
    if ((await state()) !== 'training') throw new Error(`state is ${await state()}, expected training`);
    await page.fill('#profile-steps', '2');
    await page.click('#profile');
    await page.waitForFunction(() => document.querySelectorAll('#profile-table tbody tr').length > 0 || !/^Profiling/.test(document.getElementById('profile-info').textContent), null, { timeout: 120_000 });
    const rows = await page.$$eval('#profile-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert(rows.length > 0, `no profile rows: ${await page.textContent('#profile-info')}`);
    assert(rows.every((r) => r.length === 7 && Number(r[2]) >= 1 && Number(r[3]) >= 0), `malformed rows: ${JSON.stringify(rows.slice(0, 3))}`);
    const caption = await page.textContent('#profile-caption');
    const dispatches = Number(/(\d+) dispatches/.exec(caption)?.[1]);
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#profile-trace')]);
    const trace = JSON.parse(await readFile(await download.path(), 'utf8'));
    const events = trace.traceEvents.filter((e) => e.ph === 'X').length;
    assert(events === dispatches, `trace has ${events} 'X' events, caption says ${dispatches} dispatches`);
    return `${caption.replace(/^— /, '')}; top kernel ${rows[0][0]} (${rows[0][6]})`;
  });

  await test('the loss falls', async () => {
    await page.waitForFunction(() => window.onelayerDemo.history().some((h) => h.epoch === 2), null, { timeout: 180_000 });
    const h = await page.evaluate(() => window.onelayerDemo.history());
    const mean = (a) => a.reduce((s, x) => s + x.loss, 0) / a.length;
    const first = mean(h.slice(0, 8));
    const lastEpochs = h.filter((x) => x.epoch === 1);
    const last = mean(lastEpochs.slice(-8));
    assert(Number.isFinite(first) && Number.isFinite(last), `non-finite losses: ${first}, ${last}`);
    assert(last < first - 0.05, `loss did not fall: first 8 steps ${first.toFixed(4)}, last 8 of epoch 2 ${last.toFixed(4)}`);
    const testAcc = await page.textContent('#test-acc');
    return `mean step loss ${first.toFixed(3)} → ${last.toFixed(3)}; test accuracy after epoch 2: ${testAcc}`;
  });

  await test('charts and blend pictures render', async () => {
    for (const id of ['chart-loss', 'chart-acc', 'chart-ips']) {
      const info = await page.$eval(`#${id}`, (el) => ({ points: Number(el.dataset.points), lines: el.querySelectorAll('svg line').length }));
      assert(info.points > 10 && info.lines > 20, `#${id}: ${info.points} points, ${info.lines} SVG lines`);
    }
    await page.waitForFunction(() => Number(document.getElementById('blends').dataset.step) > 0, null, { timeout: 60_000 });
    const blends = await page.$$eval('#blends canvas', (cs) =>
      cs.map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let red = 0;
        let blue = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] > 180 && d[i + 2] < 80) red++;
          if (d[i + 2] > 180 && d[i] < 80) blue++;
        }
        return { w: c.width, h: c.height, red, blue };
      }),
    );
    assert(blends.length === 13, `${blends.length} blend pictures, 13 expected for SL-VGG-16`);
    const blank = blends.filter((b) => b.w === 0 || b.red === 0 || b.blue === 0).length;
    assert(blank === 0, `${blank} blend pictures have no red or no blue pixels`);
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/demo.png`, fullPage: true });
    return `3 charts, 13 blends; screenshot test/browser/screenshots/demo.png`;
  });

  await test('download the checkpoint (safetensors with the model metadata)', async () => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#download')]);
    const path = await download.path();
    const bytes = await readFile(path);
    const st = parseSafetensors(bytes);
    checkpoint = { name: download.suggestedFilename(), bytes, epoch: Number(st.metadata.epoch) };
    assert(st.metadata.model === 'sl-vgg16' && st.metadata.width === '8', `metadata ${JSON.stringify(st.metadata)}`);
    for (const n of ['shared.weight', 'shared.bias', 'blends.0.weight', 'blends.12.weight', 'bns.0.running_mean', 'classifier.weight']) {
      assert(st.tensors[n], `checkpoint lacks ${n} (has ${Object.keys(st.tensors).slice(0, 8).join(', ')}, …)`);
    }
    assert(st.tensors['shared.weight'].shape.join('x') === '8x8x3x3', `shared.weight shape ${st.tensors['shared.weight'].shape}`);
    return `${checkpoint.name}: ${checkpoint.bytes.length} bytes, ${Object.keys(st.tensors).length} tensors, epoch ${st.metadata.epoch}`;
  });

  await test('GPU device lost mid-training: message, then resume from the checkpoint in memory', async () => {
    if ((await state()) !== 'training') throw new Error(`state is ${await state()}, expected training`);
    await page.evaluate(() => window.onelayerDemo.loseDevice());
    await waitMessage('warn', /device was lost/, 60_000);
    await page.waitForFunction(() => window.onelayerDemo.state() === 'paused', null, { timeout: 120_000 });
    const status = await page.textContent('#status');
    assert(/Restored the checkpoint of epoch \d/.test(status), `status after recovery: ${status}`);
    const before = await total();
    await page.click('#resume');
    await waitSteps(before + 2, 180_000);
    return `${status.replace(/ Press Resume.*/, '')}; ${before} → ${await total()} steps`;
  });

  await test('stop, load the downloaded checkpoint, evaluate it', async () => {
    await page.click('#stop');
    await page.waitForFunction(() => ['stopped', 'done'].includes(window.onelayerDemo.state()), null, { timeout: 60_000 });
    assert(checkpoint, 'no checkpoint was downloaded');
    await page.setInputFiles('#load', { name: checkpoint.name, mimeType: 'application/octet-stream', buffer: checkpoint.bytes });
    await waitMessage('info', /Loaded /);
    await page.waitForFunction(() => !document.getElementById('eval').disabled, null, { timeout: 30_000 });
    await page.click('#eval');
    await waitMessage('info', /Evaluation on 200 test images: loss \d/, 120_000);
    const text = (await messages('info')).find((m) => m.startsWith('Evaluation'));
    return text;
  });

  await test('a truncated checkpoint gives a message naming the file', async () => {
    await page.setInputFiles('#load', { name: 'truncated.safetensors', mimeType: 'application/octet-stream', buffer: checkpoint.bytes.subarray(0, 600) });
    await waitMessage('error', /truncated\.safetensors/, 30_000);
    return (await messages('error')).find((m) => m.includes('truncated.safetensors'));
  });

  await test('wrong CIFAR files give a message naming the file; the app keeps working', async () => {
    await page.selectOption('#dataset', 'cifar10');
    const bad = (name) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.alloc(3073 * 2 + 17, 1) });
    await page.setInputFiles('#cifar-files', ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'].map(bad));
    await waitMessage('error', /data_batch_1\.bin/, 30_000);
    const text = (await messages('error')).find((m) => m.includes('data_batch_1.bin'));
    await page.selectOption('#dataset', 'mnist');
    await page.waitForFunction(() => /mnist: 8,000/.test(document.getElementById('dataset-info').textContent), null, { timeout: 60_000 });
    // Start continues the loaded checkpoint: one more epoch of 3 steps.
    await page.fill('#epochs', String(checkpoint.epoch + 1));
    await page.fill('#max-steps', '3');
    const before = await total();
    await page.click('#start');
    await page.waitForFunction(() => window.onelayerDemo.state() === 'done', null, { timeout: 180_000 });
    const h = await page.evaluate(() => window.onelayerDemo.history());
    assert(h.at(-1).step === 3 && h.length >= before + 3, `the new run did not train 3 steps (last: ${JSON.stringify(h.at(-1))})`);
    return text;
  });

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
