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
  /**
   * Only for `train: false` (the crop is deterministic): the folder of the on-disk cache of decoded, resized,
   * centre-cropped images (layout in decode-worker-node.ts). A valid entry is used instead of
   * decoding; a missing, truncated or foreign one is rebuilt, its bytes sent back for the pool to write.
   */
  cacheDir?: string;
}

/** Check that each file starts like an image we decode (its first 16 bytes); answers with the first that does not. */
export interface SniffJob {
  op: 'sniff';
  id: number;
  paths: string[];
}

export type DecodeJob = RgbJob | CropJob | SniffJob;

export type DecodeReply =
  | {
      id: number;
      ok: true;
      data: Uint8Array | Float32Array;
      width: number;
      height: number;
      /** Crops with a cacheDir: read from the cache ('hit'), decoded with no entry there ('miss'), or decoded because the entry was invalid ('rejected'). */
      cache?: 'hit' | 'miss' | 'rejected';
      /** A cache entry to write (after a miss or a rejected entry). */
      entry?: { path: string; bytes: Uint8Array };
    }
  | { id: number; ok: true; sniffed: { index: number; head: number[] } | null }
  | { id: number; ok: false; error: string };

/** The extensions of image files (compared lower-case), as torchvision's IMG_EXTENSIONS less .gif. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'] as const;
