// The worker's GPU device: created on first use, watched for loss, replaced after one. Errors that are only symptoms
// of a loss (a readback in flight fails before device.lost resolves) are held back, so the page shows one message.
import { init, shutdown, type DeviceContext } from '../../src/device/index.js';
import type { ErrorKind, Event } from './protocol.js';

/** A failed readback or an op on a destroyed device: possibly a symptom of a device loss, not news of its own. */
const gpuError = (e: unknown) => e instanceof DOMException || (e instanceof Error && /GPU|mapAsync|device/i.test(e.message));

export class WorkerDevice {
  private ctx: DeviceContext | null = null;
  private own = false;
  /** Why the device was lost ("destroyed: …"), until it is replaced. */
  lost: string | null = null;
  /** True while a replacement is under way: errors then are symptoms. */
  recovering = false;

  constructor(
    private readonly post: (m: Event) => void,
    /** Called once per loss (not for the worker's own shutdown). */
    private readonly onLost: () => void,
  ) {}

  get current(): DeviceContext | null {
    return this.ctx;
  }

  async get(): Promise<DeviceContext> {
    if (!this.ctx) {
      const c = (this.ctx = await init());
      void c.device.lost.then((info) => {
        if (this.own || this.ctx !== c) return;
        this.lost = `${info.reason}${info.message ? `: ${info.message}` : ''}`;
        this.onLost();
      });
    }
    return this.ctx;
  }

  /** After a failure: waits up to 2 s for device.lost (it resolves after the failed readback that revealed it). */
  async settle(): Promise<void> {
    const c = this.ctx;
    if (!this.lost && c) await Promise.race([c.device.lost, new Promise((r) => setTimeout(r, 2000))]);
  }

  /** Drops the lost device (every tensor went with it); the next get() makes a new one. */
  drop(): void {
    this.own = true;
    shutdown();
    this.own = false;
    this.ctx = null;
    this.lost = null;
  }

  /**
   * Reports an error, except one caused by a lost device: the device-loss notice already says what happened, so the
   * raw "Failed to execute 'mapAsync'…" of a readback in flight (a download, a step) must not sit beside it.
   */
  fail(kind: ErrorKind, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    const c = this.ctx;
    if (kind === 'webgpu' || kind === 'device-lost' || !gpuError(e)) return this.post({ type: 'error', kind, message });
    if (this.lost !== null || this.recovering || !c) return;
    void Promise.race([c.device.lost.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]).then((lost) => {
      if (!lost) this.post({ type: 'error', kind, message });
    });
  }
}
