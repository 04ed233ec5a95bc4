/**
 * The clusters of the running kernels, polled from the server extension and shared
 * by the panel and the status bar.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { listClusters } from './api';
import { ICluster } from './types';

/** How often the list is refreshed while the page is visible. */
const INTERVAL_MS = 2000;

export class ClusterModel {
  constructor() {
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: { interval: INTERVAL_MS, backoff: true, max: 30 * 1000 },
      name: 'jupyter-nest:clusters',
      standby: 'when-hidden'
    });
  }

  /** Emitted after every refresh, whether or not anything changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get clusters(): readonly ICluster[] {
    return this._clusters;
  }

  /** Why the last refresh failed, or null. */
  get error(): string | null {
    return this._error;
  }

  byKernel(kernelId: string | undefined | null): ICluster | undefined {
    return kernelId ? this._clusters.find(c => c.kernel_id === kernelId) : undefined;
  }

  /** Refresh now, e.g. right after an action. */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    try {
      this._clusters = await listClusters();
      this._error = null;
    } catch (e) {
      this._error = (e as Error).message;
      this._changed.emit();
      throw e;
    }
    this._changed.emit();
  }

  private _clusters: ICluster[] = [];
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _poll: Poll;
}
