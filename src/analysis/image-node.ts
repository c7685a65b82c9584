// Node-only PNG output, through sharp (libvips). Plots: the SVG of src/analysis/plot.ts rasterised by librsvg, which
// draws text with the system's fonts through fontconfig (any sans face; CI installs fonts-dejavu-core). Blend
// pictures: raw RGBA from src/analysis/blend.ts encoded as PNG, and a contact sheet composed from them with SVG
// labels. One renderer for everything, so a plot's PNG is its SVG and no pixel code of our own remains.
import sharp, { type OverlayOptions, type SharpOptions } from 'sharp';
import { approxTextWidth, escapeXml, renderSvg, type PlotSpec } from './plot.js';
import { blendImage, blendLayers, readableBlendK, type NamedTensor, type RgbaImage } from './blend.js';

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** SVG text → PNG, at `pixelRatio` device pixels per SVG pixel (librsvg's 72 dpi scaled by the ratio). */
export async function svgToPng(svg: string, pixelRatio = 2): Promise<Uint8Array> {
  if (!(pixelRatio > 0)) throw new Error(`svgToPng: pixelRatio must be positive, got ${pixelRatio}`);
  return bytes(await sharp(Buffer.from(svg), { density: 72 * pixelRatio }).png().toBuffer());
}

/** A plot as PNG: its SVG (renderSvg) rasterised, `pixelRatio` × its size in pixels. */
export function renderPng(spec: PlotSpec, pixelRatio = 2): Promise<Uint8Array> {
  return svgToPng(renderSvg(spec), pixelRatio);
}

const raw = (img: RgbaImage): SharpOptions => ({ raw: { width: img.width, height: img.height, channels: 4 } });

/** RGBA pixels → PNG. */
export async function rgbaToPng(img: RgbaImage): Promise<Uint8Array> {
  if (img.data.length !== img.width * img.height * 4) {
    throw new Error(`rgbaToPng: ${img.width}x${img.height}x4 = ${img.width * img.height * 4} bytes, got ${img.data.length}`);
  }
  return bytes(await sharp(img.data, raw(img)).png().toBuffer());
}

/**
 * Contact sheet: every blend layer scaled to `tile` px (nearest neighbour, so cells stay sharp) in a near-square
 * grid, each labelled "<index>: <name> (n=<n>)" underneath.
 */
export async function blendContactSheet(layers: readonly NamedTensor[], tile = 256, kFor: (layer: NamedTensor) => number = (l) => readableBlendK(l.shape[0]!)): Promise<Uint8Array> {
  if (layers.length === 0) throw new Error('blend picture: no blend layers (tensors named *blend* of shape [n, n]); is this an SL checkpoint?');
  const cols = Math.ceil(Math.sqrt(layers.length));
  const rows = Math.ceil(layers.length / cols);
  const pad = 12;
  const fontSize = 13;
  const labelH = fontSize + 12;
  const width = cols * (tile + pad) + pad;
  const height = rows * (tile + pad + labelH) + pad;
  const tiles: OverlayOptions[] = [];
  const labels: string[] = [];
  for (const [i, layer] of layers.entries()) {
    const left = pad + (i % cols) * (tile + pad);
    const top = pad + Math.floor(i / cols) * (tile + pad + labelH);
    const img = blendImage(layer, 1, kFor(layer));
    const scaled = await sharp(img.data, raw(img)).resize(tile, tile, { kernel: 'nearest' }).raw().toBuffer();
    tiles.push({ input: scaled, raw: { width: tile, height: tile, channels: 4 }, left, top });
    let label = `${i}: ${layer.name} (n=${layer.shape[0]})`;
    const maxChars = Math.floor((tile + pad / 2) / approxTextWidth('x', fontSize));
    if (label.length > maxChars) label = `${label.slice(0, maxChars - 2)}..`;
    labels.push(`<text x="${left}" y="${top + tile + 4 + fontSize}" font-size="${fontSize}">${escapeXml(label)}</text>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="Helvetica, Arial, sans-serif" fill="#000000">${labels.join('')}</svg>`;
  const sheet = sharp({ create: { width, height, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 1 } } });
  return bytes(await sheet.composite([...tiles, { input: Buffer.from(svg), left: 0, top: 0 }]).png().toBuffer());
}

export interface BlendPictures {
  layers: { name: string; n: number; png: Uint8Array }[];
  /** All layers in a grid, each labelled "<index>: <name> (n=<n>)". */
  sheet: Uint8Array;
}

/**
 * PNG per blend layer (order of appearance, see blendLayers) plus a contact sheet. k: marked entries per row (red
 * the largest |w|, blue the smallest), capped at n/2; default readableBlendK(n), as on the page.
 */
export async function renderBlendLayers(tensors: readonly NamedTensor[], order?: readonly string[], k?: number): Promise<BlendPictures> {
  const layers = blendLayers(tensors, order);
  const kFor = (l: NamedTensor): number => Math.min(k ?? readableBlendK(l.shape[0]!), Math.floor(l.shape[0]! / 2));
  const sheet = await blendContactSheet(layers, 256, kFor); // first: it names the problem when there are no blend layers
  return {
    layers: await Promise.all(layers.map(async (l) => ({ name: l.name, n: l.shape[0]!, png: await rgbaToPng(blendImage(l, undefined, kFor(l))) }))),
    sheet,
  };
}
