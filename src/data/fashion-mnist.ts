// Fashion-MNIST (Zalando's 70,000 28×28 greyscale clothing images, ten classes) → a fixed, seeded, stratified
// 60,000 / 10,000 split padded to 32×32 like MNIST. Browser-safe: the Node loader (fashion-mnist-node.ts) reads the
// optional `fashion-mnist` package and caches the result.
import { Random } from '../tensor/random.js';
import { channelStats, DatasetError, type Dataset, type DatasetSplit } from './types.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;
/** Images per class in the package (the official 6,000 train + 1,000 test of each class, merged). */
export const FASHION_MNIST_PER_CLASS = 7000;
/** Of each class's 7,000 images, this many go to the test split: 10 × 1,000 = 10,000, as in the official split. */
export const FASHION_MNIST_TEST_PER_CLASS = 1000;
export const FASHION_MNIST_TRAIN = 60_000;
export const FASHION_MNIST_TEST = 10_000;
/** The split and the order within each split are fixed permutations under this seed: every run sees the same 60,000 / 10,000. */
export const FASHION_MNIST_SPLIT_SEED = 20_260_114;

const SRC = 28;
const PAD = 2;
const OUT = SRC + 2 * PAD;

/**
 * The fixed split from the images of each class (class c = `classes[c]`, a list of 784-value rows of bytes 0..255).
 * Empty rows are skipped (the package's class 0 holds two); every other row must be 784 integers in [0, 255], and
 * each class must then hold `perClass` images. Within each class a seeded shuffle puts `testPerClass` images in the
 * test split and the rest in train; each split is then shuffled (seeded) so that any prefix of it is mixed.
 */
export function fashionMnistFromRows(
  classes: ArrayLike<ArrayLike<number>>[],
  source = 'fashion-mnist',
  perClass = FASHION_MNIST_PER_CLASS,
  testPerClass = FASHION_MNIST_TEST_PER_CLASS,
): Dataset {
  if (classes.length !== FASHION_MNIST_CLASSES.length) throw new DatasetError(`${source}: ${FASHION_MNIST_CLASSES.length} classes expected, got ${classes.length}`);
  if (!(Number.isInteger(testPerClass) && testPerClass > 0 && testPerClass < perClass)) throw new DatasetError(`${source}: testPerClass ${testPerClass} must be in [1, ${perClass})`);
  const rows: ArrayLike<number>[][] = classes.map((list, c) => {
    const kept: ArrayLike<number>[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      if (r.length === 0) continue;
      if (r.length !== SRC * SRC) throw new DatasetError(`${source}: class ${c} image ${i} has ${r.length} values, expected ${SRC * SRC}`);
      kept.push(r);
    }
    if (kept.length !== perClass) throw new DatasetError(`${source}: class ${c} (${FASHION_MNIST_CLASSES[c]}) has ${kept.length} images, expected ${perClass}`);
    return kept;
  });
  const rng = new Random(FASHION_MNIST_SPLIT_SEED);
  const trainRefs: number[] = [];
  const testRefs: number[] = [];
  rows.forEach((list, c) => {
    const order = new Int32Array(list.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    rng.shuffle(order);
    // A reference is class * perClass + index, so one Int32 names an image.
    order.forEach((i, k) => (k < testPerClass ? testRefs : trainRefs).push(c * perClass + i));
  });
  const makeSplit = (refs: number[], what: string): DatasetSplit => {
    const perm = Int32Array.from(refs);
    rng.shuffle(perm);
    const count = perm.length;
    const images = new Uint8Array(count * OUT * OUT);
    const labels = new Uint16Array(count);
    for (let n = 0; n < count; n++) {
      const c = Math.floor(perm[n] / perClass);
      const row = rows[c][perm[n] % perClass];
      labels[n] = c;
      const dst = n * OUT * OUT;
      for (let y = 0; y < SRC; y++) {
        const o = dst + (y + PAD) * OUT + PAD;
        for (let x = 0; x < SRC; x++) {
          const v = row[y * SRC + x];
          if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new DatasetError(`${source}: class ${c} image ${perm[n] % perClass} (${what}) holds ${v} at pixel ${y * SRC + x}, expected an integer in [0, 255]`);
          images[o + x] = v;
        }
      }
    }
    return { images, labels, count };
  };
  const train = makeSplit(trainRefs, 'train');
  const test = makeSplit(testRefs, 'test');
  const { mean, std } = channelStats(train, 1);
  return { name: 'fashion-mnist', numClasses: 10, channels: 1, height: OUT, width: OUT, train, test, mean, std, classNames: [...FASHION_MNIST_CLASSES] };
}
