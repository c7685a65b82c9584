// One seeded forward/backward of a tiny SL-VGG-16 on a fixed batch. The same module runs in Node (Dawn,
// test/browser/parity-node.mjs) and in Chromium (demo/parity.html); test/browser/run.mjs compares the two.
import { init } from '../../src/device/index.js';
import { createModel } from '../../src/models/index.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { tensor, type Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import { Random } from '../../src/tensor/random.js';

export const PARITY_CASE = { model: 'sl-vgg16', width: 8, batch: 4, channels: 3, size: 32, classes: 10, seed: 7, dataSeed: 1234 } as const;

export interface ParityResult {
  platform: string;
  adapter: string;
  loss: number;
  logits: number[];
  /** Initial parameter values (CPU-seeded: must agree exactly). */
  params: Record<string, number[]>;
  grads: Record<string, number[]>;
}

export async function runParityCase(): Promise<ParityResult> {
  const ctx = await init();
  const c = PARITY_CASE;
  const model = createModel(c.model, { width: c.width, numClasses: c.classes, inChannels: c.channels, inputSize: c.size, seed: c.seed });
  model.train();
  const rng = new Random(c.dataSeed);
  const x = new Float32Array(c.batch * c.channels * c.size * c.size);
  for (let i = 0; i < x.length; i++) x[i] = 2 * rng.next() - 1;
  const labels = Array.from({ length: c.batch }, () => rng.int(c.classes));
  const params: Record<string, number[]> = {};
  for (const [name, p] of model.namedParameters()) params[name] = Array.from(await p.toArray());
  const [loss, logits] = tidy(() => {
    const out = model.forward(tensor(x, [c.batch, c.channels, c.size, c.size]));
    const l = crossEntropy(out, labels);
    void l.backward();
    return [l, out] as [Tensor, Tensor];
  });
  const grads: Record<string, number[]> = {};
  for (const [name, p] of model.namedParameters()) {
    if (!p.grad) throw new Error(`parity: parameter ${name} got no gradient`);
    grads[name] = Array.from(await p.grad.toArray());
  }
  const i = ctx.info;
  const result = {
    platform: ctx.platform.source,
    adapter: [i.vendor, i.architecture, i.description].filter((s) => s).join(' '),
    loss: (await loss.toArray())[0],
    logits: Array.from(await logits.toArray()),
    params,
    grads,
  };
  loss.dispose();
  logits.dispose();
  model.dispose();
  return result;
}
