// Datasets for the browser and Node alike (no node:* imports here; Node file loading is in ./node.ts).
export * from './types.js';
export { loadMnist, mnistFromRaw, MNIST_TRAIN, MNIST_TEST } from './mnist.js';
export { parseCifar, parseCifarArchive, cifarFileNames, cifarArchiveMaxBytes, checkCifarFileSize, type CifarKind, type CifarOptions } from './cifar.js';
export {
  parseTinyImagenet,
  memoryFileTree,
  browserImageDecoder,
  createBrowserImageDecoder,
  type BrowserDecoderOptions,
  type DecodedImage,
  type ImageDecoder,
  type FileTree,
  type TinyImagenetOptions,
} from './tinyimagenet.js';
export { readTar, writeTar, gunzip, isGzip, readArchive, type Inflate } from './tar.js';
export { BatchLoader, createLoader, type BatchLoaderOptions } from './loader.js';
export { fashionMnistFromRows, FASHION_MNIST_CLASSES, FASHION_MNIST_TRAIN, FASHION_MNIST_TEST } from './fashion-mnist.js';
export { compareCodePoints, hasImageExtension, splitByFraction, IMAGE_EXTENSIONS, IMAGENET_MEAN, IMAGENET_STD } from './imagefolder.js';
export { resolveAugment, type AugmentOptions } from './augment.js';
