/**
 * The clusters of the running kernels, polled from the server extension and shared
 * by the panel and the status bar.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { listClusters } from './api';
import { NestSettings, pollFrequency } from './settings';
import { ICluster } from './types';

/** The longest wait between refreshes while the server does not answer. */
const BACKOFF_MAX_MS = 30 * 1000;

export class ClusterModel {
  /** Refreshes every `refreshInterval` of `settings` while the page is visible. */
  constructor(settings: NestSettings) {
    this._settings = settings;
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: pollFrequency(settings.current.refreshInterval, BACKOFF_MAX_MS),
      name: 'jupyter-nest:clusters',
      standby: 'when-hidden'
    });
    settings.changed.connect(this._followSettings, this);
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
    this._settings.changed.disconnect(this._followSettings, this);
    this._poll.dispose();
  }

  private _followSettings(): void {
    const interval = this._settings.current.refreshInterval;
    if (interval !== this._poll.frequency.interval) {
      this._poll.frequency = pollFrequency(interval, BACKOFF_MAX_MS);
      // The tick already scheduled still has the old interval: start the new rhythm now.
      void this._poll.refresh();
    }
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
  private _settings: NestSettings;
}
