// Browser tests of the demo page, part 2: checkpoints (download mid-run, load and describe, continue at the global
// step, the CLI's checkpoint.safetensors with optimizer momentum), device-loss recovery, bad files, a second run's
// clean slate and Tiny ImageNet from a folder.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCheckpoint, fakeTinyImagenet, parseSafetensors } from './checks.mjs';
import { pageHelpers } from './app.mjs';

export async function checkpointTests({ page, test, assert }) {
  const h = pageHelpers(page);
  let checkpoint = null;
  const downloadCheckpoint = async () => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#download')]);
    const bytes = await readFile(await download.path());
    return { name: download.suggestedFilename(), bytes, st: parseSafetensors(bytes) };
  };
  const load = async (name, bytes) => {
    const before = (await h.messages('info')).length;
    await page.setInputFiles('#load', { name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
    await page.waitForFunction((n) => document.querySelectorAll('#messages .msg.info').length > n && /^Loaded /.test(document.getElementById('status').textContent), before, { timeout: 60_000 });
    return h.status();
  };

  await test('download the checkpoint mid-run (safetensors with the model metadata, where in the epoch it was)', async () => {
    const d = await downloadCheckpoint();
    const m = d.st.metadata;
    checkpoint = { name: d.name, bytes: d.bytes, epoch: Number(m.epoch), globalStep: Number(m.globalStep), epochStep: Number(m.epochStep) };
    assert(m.model === 'sl-vgg16' && m.width === '8', `metadata ${JSON.stringify(m)}`);
    // 20 steps per epoch, no loaded checkpoint or device loss yet: the global step is exactly epochs·20 + step.
    assert(Number.isInteger(checkpoint.epochStep) && checkpoint.globalStep === 20 * checkpoint.epoch + checkpoint.epochStep, `metadata position ${JSON.stringify(m)}`);
    for (const n of ['shared.weight', 'shared.bias', 'blends.0.weight', 'blends.12.weight', 'bns.0.running_mean', 'classifier.weight', 'optimizer.momentum.shared.weight']) {
      assert(d.st.tensors[n], `checkpoint lacks ${n} (has ${Object.keys(d.st.tensors).slice(0, 8).join(', ')}, …)`);
    }
    assert(d.st.tensors['shared.weight'].shape.join('x') === '8x8x3x3', `shared.weight shape ${d.st.tensors['shared.weight'].shape}`);
    return `${d.name}: ${d.bytes.length} bytes, ${Object.keys(d.st.tensors).length} tensors, epoch ${m.epoch}, step ${m.epochStep}, global step ${m.globalStep}`;
  });

  await test('GPU device lost mid-training: one clean message, charts rewound, resume from the checkpoint in memory', async () => {
    if ((await h.state()) !== 'training') throw new Error(`state is ${await h.state()}, expected training`);
    const errorsBefore = (await h.messages('error')).length;
    // Lost while a download reads the weights back: the readback's own failure is a symptom, not a second message.
    await page.evaluate(() => {
      document.getElementById('download').click();
      window.onelayerDemo.loseDevice();
    });
    await h.waitMessage('warn', /device was lost/, 60_000);
    await h.waitState(['paused'], 120_000);
    // The raw readback failure ("Failed to execute 'mapAsync' on 'GPUBuffer'…", "op … cannot run") must not sit
    // beside the notice (errors that may be a device loss's symptoms wait up to 2 s for it).
    await page.waitForTimeout(2500);
    const errors = (await h.messages('error')).slice(errorsBefore);
    assert(errors.length === 0, `error messages beside the device-loss notice: ${JSON.stringify(errors)}`);
    const notices = [...(await h.messages('warn')), ...(await h.messages('info'))].filter((t) => /device/i.test(t));
    assert(notices.length === 1, `${notices.length} device messages: ${JSON.stringify(notices)}`);
    const status = await h.status();
    const restored = Number(/Restored the checkpoint of epoch \d+ \(global step (\d+)\)/.exec(status)?.[1]);
    assert(Number.isInteger(restored), `status after recovery: ${status}`);
    const loss = (await h.charts())[0];
    assert(loss.xMax <= restored, `charts still show steps after the restored global step ${restored}: x max ${loss.xMax}`);
    const before = await h.total();
    await page.click('#resume');
    await h.waitSteps(before + 2, 180_000);
    const next = (await h.history()).find((x) => x.totalSteps === before + 1);
    assert(next.globalStep === restored + 1, `after recovery the run continued at global step ${next.globalStep}, expected ${restored + 1}`);
    return `${status.replace(/ Press Resume.*/, '')}; ${before} → ${await h.total()} steps`;
  });

  await test('stop, load the mid-epoch checkpoint: described by epoch and step, its momentum restored; evaluate it', async () => {
    await page.click('#stop');
    await h.waitState(['stopped', 'done'], 60_000);
    const status = await load(checkpoint.name, checkpoint.bytes);
    const where = checkpoint.epochStep > 0 ? `epoch ${checkpoint.epoch + 1}, step ${checkpoint.epochStep} (global step ${checkpoint.globalStep}` : `end of epoch ${checkpoint.epoch} (global step ${checkpoint.globalStep})`;
    assert(status.includes(where), `load message should say '${where}': '${status}'`);
    // The download carries the optimizer's momentum (issue 15: checkpoints always include the optimizer state).
    assert(/Start restores its optimizer momentum/.test(status), `load message does not say the momentum is restored: '${status}'`);
    await page.waitForFunction(() => !document.getElementById('eval').disabled, null, { timeout: 30_000 });
    await page.click('#eval');
    await h.waitMessage('info', /Evaluation on 200 test images: loss \d/, 120_000);
    return `${status.slice(0, 140)}…`;
  });

  await test('a truncated checkpoint gives a message naming the file', async () => {
    await page.setInputFiles('#load', { name: 'truncated.safetensors', mimeType: 'application/octet-stream', buffer: checkpoint.bytes.subarray(0, 600) });
    await h.waitMessage('error', /truncated\.safetensors/, 30_000);
    return (await h.messages('error')).find((m) => m.includes('truncated.safetensors'));
  });

  await test('wrong CIFAR files give a message naming the file; the status line does not keep saying "Reading…"', async () => {
    await page.selectOption('#dataset', 'cifar10');
    const bad = (name) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.alloc(3073 * 2 + 17, 1) });
    await page.setInputFiles('#cifar-files', ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'].map(bad));
    await h.waitMessage('error', /data_batch_1\.bin/, 30_000);
    await page.waitForTimeout(300);
    const status = await h.status();
    assert(!/Reading/.test(status), `stale status after the failed load: '${status}'`);
    await page.selectOption('#dataset', 'mnist');
    await page.waitForFunction(() => /mnist: 8,000/.test(document.getElementById('dataset-info').textContent), null, { timeout: 60_000 });
    return (await h.messages('error')).find((m) => m.includes('data_batch_1.bin'));
  });

  await test('Start continues the loaded checkpoint at its global step; the charts continue there too', async () => {
    await load(checkpoint.name, checkpoint.bytes);
    await page.fill('#epochs', String(checkpoint.epoch + 1));
    await page.fill('#max-steps', '3');
    const before = (await h.history()).length;
    await page.click('#start');
    await h.waitMessage('info', /Restored the optimizer momentum of \d+ parameter tensors/, 60_000);
    await h.waitState(['done'], 180_000);
    const run = (await h.history()).slice(before);
    assert(run.length === 3 && run[0].globalStep === checkpoint.globalStep + 1, `the continued run: ${JSON.stringify(run.map((x) => x.globalStep))}, expected to start at ${checkpoint.globalStep + 1}`);
    await page.waitForTimeout(400);
    const chart = (await h.charts())[0];
    assert(chart.firstX === checkpoint.globalStep + 1, `the loss chart starts at x = ${chart.firstX}, expected ${checkpoint.globalStep + 1}`);
    return `global steps ${run.map((x) => x.globalStep).join(', ')}`;
  });

  await test("the CLI's checkpoint.safetensors: its optimizer momentum is restored", async () => {
    const cli = cliCheckpoint(checkpoint.bytes);
    const status = await load('checkpoint.safetensors', cli.bytes);
    assert(/restores its optimizer momentum/.test(status), `load message: '${status}'`);
    await page.fill('#max-steps', '2');
    await page.click('#start');
    await h.waitMessage('info', new RegExp(`Restored the optimizer momentum of ${cli.momentum} parameter tensors`), 60_000);
    await h.waitState(['done'], 180_000);
    return `${cli.momentum} momentum tensors restored`;
  });

  await test('a second run starts with clean tiles, and its mid-run checkpoint carries no earlier testAccuracy', async () => {
    assert((await page.textContent('#test-acc')) !== '–', 'precondition: the previous run left a test accuracy on its tile');
    // Same architecture and width (its pipelines are compiled already): after a finished run, Start makes new weights.
    await page.fill('#epochs', '1');
    await page.fill('#max-steps', '40');
    const before = (await h.history()).length;
    await page.click('#start');
    await page.waitForFunction((n) => window.onelayerDemo.history().length > n, before, { timeout: 120_000 });
    await page.click('#pause');
    await h.waitState(['paused'], 60_000);
    try {
      const tile = await page.textContent('#test-acc');
      const epochs = new Set((await h.history()).slice(before).map((x) => x.epoch));
      assert(epochs.size === 1, `the new run left its first epoch before the check: epochs ${[...epochs]}`);
      assert(tile === '–', `Test acc tile during the new run's first epoch: '${tile}'`);
      const d = await downloadCheckpoint();
      const m = d.st.metadata;
      assert(Number(m.epoch) === 0 && Number(m.globalStep) === Number(m.epochStep) && m.testAccuracy === undefined, `mid-run checkpoint metadata of the new model: ${JSON.stringify(m)}`);
      return `Test acc '${tile}', metadata without testAccuracy`;
    } finally {
      await page.click('#stop');
      await h.waitState(['stopped'], 60_000);
    }
  });

  await test('Tiny ImageNet from a folder trains', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onelayer-tiny-'));
    try {
      const root = await fakeTinyImagenet(dir);
      await page.selectOption('#dataset', 'tinyimagenet');
      await page.setInputFiles('#tiny-folder', root);
      await page.waitForFunction(() => /tiny-imagenet: 16 train \/ 8 test, 4 classes/.test(document.getElementById('dataset-info').textContent), null, { timeout: 60_000 });
      await page.fill('#batch', '4');
      await page.fill('#max-steps', '2');
      await page.fill('#max-eval', '8');
      const before = (await h.history()).length;
      const errors = (await h.messages('error')).length;
      await page.click('#start');
      await h.waitState(['done', 'stopped'], 180_000);
      const newErrors = (await h.messages('error')).slice(errors);
      assert(newErrors.length === 0, `errors: ${JSON.stringify(newErrors)}`);
      const steps = (await h.history()).length - before;
      assert(steps === 2 && (await h.state()) === 'done', `${steps} steps, state ${await h.state()}`);
      return `2 steps on 4 classes of 64×64 images; test acc ${await page.textContent('#test-acc')}`;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
