// Dataset loading for the worker: the library's browser-safe parsers fed from files the user picked.
import { DatasetError, type Dataset } from '../../src/data/types.js';
import { parseCifar, parseCifarArchive } from '../../src/data/cifar.js';
import { parseTinyImagenet, createBrowserImageDecoder, type FileTree } from '../../src/data/tinyimagenet.js';
import type { DatasetKind, PickedFile } from './protocol.js';

/** Classes, channels and side of each dataset, for parameter counts before any file is read. */
export const DATASET_SHAPES: Record<DatasetKind, { numClasses: number; inChannels: number; inputSize: number }> = {
  mnist: { numClasses: 10, inChannels: 1, inputSize: 32 },
  cifar10: { numClasses: 10, inChannels: 3, inputSize: 32 },
  cifar100: { numClasses: 100, inChannels: 3, inputSize: 32 },
  tinyimagenet: { numClasses: 200, inChannels: 3, inputSize: 64 },
};

/**
 * The name each parser gives its Dataset (Dataset.name, checkpoint metadata), by dropdown value. The worker compares
 * the loaded dataset with the chosen one through this map: 'tinyimagenet' (a value) is not 'tiny-imagenet' (a name).
 */
export const DATASET_NAMES: Record<DatasetKind, string> = { mnist: 'mnist', cifar10: 'cifar10', cifar100: 'cifar100', tinyimagenet: 'tiny-imagenet' };

/** Reads every file as bytes (CIFAR), or wraps a folder pick as a lazy FileTree (Tiny ImageNet: 120k JPEGs, decoded in this worker). */
export async function loadDataset(kind: DatasetKind, files: PickedFile[], log: (message: string) => void, maxPerClass?: number): Promise<Dataset> {
  if (kind === 'mnist') {
    log('Loading the embedded MNIST digits…');
    const { loadMnist } = await import('../../src/data/mnist.js');
    return loadMnist();
  }
  if (!files.length) throw new DatasetError(`${kind}: no files chosen`);
  if (kind === 'tinyimagenet') {
    const byPath = new Map(files.map((f) => [f.path, f.file]));
    const tree: FileTree = {
      list: () => [...byPath.keys()],
      read: async (p) => {
        const f = byPath.get(p);
        if (!f) throw new DatasetError(`${p}: file not found`);
        return new Uint8Array(await f.arrayBuffer());
      },
    };
    let lastReport = 0;
    // Decoded here, in the worker, by createImageBitmap straight to 64×64 (Tiny ImageNet's size, so its images are
    // not resampled; an image of another size is resized rather than refused).
    const { inputSize } = DATASET_SHAPES.tinyimagenet;
    return parseTinyImagenet(tree, createBrowserImageDecoder({ width: inputSize, height: inputSize }), {
      maxPerClass,
      onProgress: (done, total) => {
        const now = performance.now();
        if (now - lastReport > 500 || done === total) {
          lastReport = now;
          log(`Decoding Tiny ImageNet: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} images`);
        }
      },
    });
  }
  const named = await Promise.all(files.map(async (f) => ({ name: f.path, bytes: new Uint8Array(await f.file.arrayBuffer()) })));
  if (named.length === 1 && /\.(tar\.gz|tgz|tar)$/i.test(named[0].name)) return parseCifarArchive(named[0].bytes, named[0].name, kind);
  return parseCifar(named, kind);
}
