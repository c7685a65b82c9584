// Builds small ImageFolder trees on the fly with sharp: mixed sizes and formats (JPEG, PNG, WebP; greyscale,
// palette, alpha), and the hand-written encoders of the formats sharp cannot write (PPM/PGM, BMP).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** Each class a brightness level with its own tint, so greyscale copies keep the class apart too. */
export const CLASS_COLOURS: Record<string, [number, number, number]> = {
  B: [70, 40, 30],
  a: [120, 150, 120],
  c: [200, 210, 250],
};

export type Variant = 'jpeg' | 'png' | 'webp' | 'grey-jpeg' | 'grey-png' | 'palette-png' | 'alpha-png' | 'alpha-webp' | 'lossless-webp' | 'progressive-jpeg';
export const VARIANTS: Variant[] = ['jpeg', 'png', 'webp', 'grey-jpeg', 'grey-png', 'palette-png', 'alpha-png', 'alpha-webp', 'lossless-webp', 'progressive-jpeg'];

/** A noisy flat-colour RGB image. */
export function noisyImage(rgb: [number, number, number], w: number, h: number, seed: number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  let s = seed * 2654435761;
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      data[p * 3 + c] = Math.max(0, Math.min(255, rgb[c] + ((s >>> 16) % 31) - 15));
    }
  }
  return data;
}

/** Encodes RGB pixels in one of the variants; returns the bytes and the file extension to use. */
export async function encode(variant: Variant, rgb: Uint8Array, w: number, h: number): Promise<{ bytes: Uint8Array; ext: string }> {
  let img = sharp(rgb, { raw: { width: w, height: h, channels: 3 } });
  if (variant.startsWith('alpha')) {
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2], 128 + (p % 128)], 4 * p);
    img = sharp(rgba, { raw: { width: w, height: h, channels: 4 } });
  }
  if (variant.startsWith('grey')) img = img.greyscale();
  switch (variant) {
    case 'jpeg':
    case 'grey-jpeg':
      return { bytes: await img.jpeg({ quality: 90 }).toBuffer(), ext: variant === 'jpeg' ? 'JPG' : 'jpeg' };
    case 'webp':
    case 'alpha-webp':
      return { bytes: await img.webp({ quality: 90 }).toBuffer(), ext: 'webp' };
    case 'lossless-webp':
      return { bytes: await img.webp({ lossless: true }).toBuffer(), ext: 'WebP' };
    case 'progressive-jpeg':
      return { bytes: await img.jpeg({ quality: 80, progressive: true }).toBuffer(), ext: 'jpg' };
    case 'palette-png':
      return { bytes: await img.png({ palette: true }).toBuffer(), ext: 'PNG' };
    default:
      return { bytes: await img.png().toBuffer(), ext: 'png' };
  }
}

export interface TreeOptions {
  perClassTrain: number;
  perClassVal: number;
  classes?: Record<string, [number, number, number]>;
  /** Only DIR/<class>/ (no train/ and val/): for --val-fraction. */
  flat?: boolean;
}

/** Writes DIR/train/<class>/ and DIR/val/<class>/ (or DIR/<class>/), with a stray file at the class level. */
export async function writeImageFolder(root: string, o: TreeOptions): Promise<void> {
  const classes = o.classes ?? CLASS_COLOURS;
  let k = 0;
  const splits: [string, number][] = o.flat ? [['', o.perClassTrain + o.perClassVal]] : [['train', o.perClassTrain], ['val', o.perClassVal]];
  for (const [split, n] of splits) {
    for (const [name, colour] of Object.entries(classes)) {
      const dir = join(root, split, name);
      await mkdir(dir, { recursive: true });
      for (let i = 0; i < n; i++, k++) {
        const w = 20 + ((k * 17) % 70);
        const h = 20 + ((k * 29) % 50);
        const { bytes, ext } = await encode(VARIANTS[k % VARIANTS.length], noisyImage(colour, w, h, k + 1), w, h);
        await writeFile(join(dir, `img_${i}.${ext}`), bytes);
      }
    }
    await writeFile(join(root, split, 'README.txt'), 'a stray file at the class level: ignored\n');
  }
}

/** Binary PPM (P6) or PGM (P5) with maxval 255. */
export function encodePnm(pixels: Uint8Array, w: number, h: number, channels: 1 | 3): Uint8Array {
  const header = new TextEncoder().encode(`P${channels === 3 ? 6 : 5}\n# onelayer test\n${w} ${h}\n255\n`);
  const out = new Uint8Array(header.length + pixels.length);
  out.set(header);
  out.set(pixels, header.length);
  return out;
}

/** A bottom-up 24-bit BI_RGB BMP. */
export function encodeBmp24(rgb: Uint8Array, w: number, h: number): Uint8Array {
  const stride = Math.ceil((w * 3) / 4) * 4;
  const out = new Uint8Array(54 + stride * h);
  const v = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  v.setUint32(2, out.length, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, w, true);
  v.setInt32(22, h, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = 54 + (h - 1 - y) * stride + 3 * x;
      out.set([rgb[s + 2], rgb[s + 1], rgb[s]], d);
    }
  }
  return out;
}

/** A top-down 8-bit palette BMP (negative height). */
export function encodeBmp8(indices: Uint8Array, palette: [number, number, number][], w: number, h: number): Uint8Array {
  const stride = Math.ceil(w / 4) * 4;
  const at = 54 + 4 * palette.length;
  const out = new Uint8Array(at + stride * h);
  const v = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  v.setUint32(2, out.length, true);
  v.setUint32(10, at, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, w, true);
  v.setInt32(22, -h, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 8, true);
  v.setUint32(46, palette.length, true);
  palette.forEach(([r, g, b], i) => out.set([b, g, r, 0], 54 + 4 * i));
  for (let y = 0; y < h; y++) out.set(indices.subarray(y * w, (y + 1) * w), at + y * stride);
  return out;
}
