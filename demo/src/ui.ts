// Page furniture shared by main.ts: message boxes, the no-WebGPU notice, the profile table, file downloads.
import type { KernelSummary } from '../../src/gpu/profiler.js';

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo: #${id} is missing from index.html`);
  return el as T;
};
export const input = (id: string) => $<HTMLInputElement>(id);
export const select = (id: string) => $<HTMLSelectElement>(id);

/**
 * A message box. A `key` names a message that replaces its previous box instead of adding one (the device-loss
 * notice and its outcome stay ONE message).
 */
export function message(kind: 'error' | 'warn' | 'info', text: string, sticky = kind === 'error', key?: string): void {
  if (key) document.querySelector(`#messages [data-key="${key}"]`)?.remove();
  const box = document.createElement('div');
  box.className = `msg ${kind}`;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (key) box.dataset.key = key;
  const span = document.createElement('span');
  span.textContent = text;
  const close = document.createElement('button');
  close.textContent = '×';
  close.title = 'Dismiss';
  close.setAttribute('aria-label', 'Dismiss this message');
  close.onclick = () => box.remove();
  box.append(span, close);
  $('messages').append(box);
  if (!sticky) setTimeout(() => box.remove(), 8000);
}

export function fatal(text: string): void {
  const el = $('fatal');
  el.hidden = false;
  el.innerHTML = '<h2>WebGPU is not available</h2>';
  const p = document.createElement('p');
  p.textContent = text;
  const how = document.createElement('p');
  how.textContent =
    'onelayer trains on the GPU through WebGPU. Use Chrome or Edge 113+ (or another browser with WebGPU enabled), open this page from https:// or http://localhost / http://127.0.0.1, and on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan. chrome://gpu shows whether WebGPU is blocked.';
  el.append(p, how);
  $('adapter').textContent = 'No WebGPU';
  for (const id of ['start', 'pause', 'resume', 'stop', 'download', 'eval', 'profile']) input(id).disabled = true;
}

/** The top kernels by total GPU time; the full list is in the trace. */
export function showProfile(m: { steps: number; dispatches: number; gpuMs: number; rows: KernelSummary[] }, top = 15): void {
  const body = $('profile-table').querySelector('tbody')!;
  body.innerHTML = '';
  for (const r of m.rows.slice(0, top)) {
    const tr = document.createElement('tr');
    for (const cell of [r.kernel, r.ops, String(r.count), r.totalMs.toFixed(2), r.meanUs.toFixed(1), r.gflops === null ? '–' : r.gflops.toFixed(2), `${(100 * r.share).toFixed(1)}%`]) {
      const td = document.createElement('td');
      td.textContent = cell;
      td.title = cell;
      tr.append(td);
    }
    body.append(tr);
  }
  $('profile-table').hidden = false;
  $('profile-caption').textContent = `— ${m.steps} steps, ${m.dispatches} dispatches, ${m.gpuMs.toFixed(1)} ms GPU time`;
  $('profile-info').textContent = `Top ${Math.min(top, m.rows.length)} of ${m.rows.length} kernels by total time. The Chrome trace opens in chrome://tracing or ui.perfetto.dev.`;
}

export function download(name: string, bytes: Uint8Array<ArrayBuffer>): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
