// Messages between the decoding pool (decode-pool-node.ts) and its worker threads (decode-worker-node.ts).

/** Decode an image held in memory to RGB at its own size (Tiny ImageNet); refused above maxPixels. */
export interface RgbJob {
  op: 'rgb';
  id: number;
  bytes: Uint8Array;
  name: string;
  maxPixels: number;
}

/**
 * Read, decode and transform an image file to a normalised float32 CHW RGB tensor of size × size: with `train`,
 * torchvision's RandomResizedCrop (scale 0.08..1, ratio 3/4..4/3) and a horizontal flip with probability ½, drawn
 * from `seed`; else the shorter side resized to `size` and the centre size × size crop.
 */
export interface CropJob {
  op: 'crop';
  id: number;
  path: string;
  size: number;
  train: boolean;
  seed: number;
  mean: number[];
  std: number[];
}

/** Check that each file starts like an image we decode (its first 16 bytes); answers with the first that does not. */
export interface SniffJob {
  op: 'sniff';
  id: number;
  paths: string[];
}

export type DecodeJob = RgbJob | CropJob | SniffJob;

export type DecodeReply =
  | { id: number; ok: true; data: Uint8Array | Float32Array; width: number; height: number }
  | { id: number; ok: true; sniffed: { index: number; head: number[] } | null }
  | { id: number; ok: false; error: string };

/** The extensions of image files (compared lower-case), as torchvision's IMG_EXTENSIONS less .gif. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'] as const;
