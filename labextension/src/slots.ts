/**
 * The live slot view in the panel: the notebook widget's Bokeh figure, embedded once
 * from the server's json_item, then brought up to date by source name and model id.
 */
import { UUID } from '@lumino/coreutils';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { fetchColumns, fetchView } from './api';
import { loadBokeh } from './bokeh';
import { NestSettings, pollFrequency } from './settings';
import { IViewReply } from './types';

/** The longest wait between refreshes while the server does not answer. */
const BACKOFF_MAX_MS = 10 * 1000;

export class SlotsView extends Widget {
  /** Refreshes every `slotsRefreshInterval` of `settings` while it is visible. */
  constructor(settings: NestSettings) {
    super();
    this._settings = settings;
    settings.changed.connect(this._followSettings, this);
    this.addClass('jp-Nest-slots');
    this._title = document.createElement('div');
    this._title.className = 'jp-Nest-slots-title';
    this._message = document.createElement('div');
    this._message.className = 'jp-Nest-slots-message';
    this._host = document.createElement('div');
    this._host.className = 'jp-Nest-slots-figure';
    this.node.append(this._title, this._message, this._host);
    this.hide();
  }

  /** The kernel whose cluster is shown, or null. */
  get kernelId(): string | null {
    return this._kernelId;
  }

  /** Show the live slots of the cluster of `kernelId`, replacing any other. */
  async open(kernelId: string, title: string): Promise<void> {
    this.closeView();
    this._kernelId = kernelId;
    this._title.textContent = `Live slots: ${title}`;
    this._setMessage('Loading the slot view…');
    this.show();
    try {
      await this._embed(kernelId);
    } catch (e) {
      this._setMessage((e as Error).message);
    }
  }

  /** Remove the figure and stop polling. */
  closeView(): void {
    this._stop();
    this._kernelId = null;
    this.hide();
  }

  dispose(): void {
    this._settings.changed.disconnect(this._followSettings, this);
    this.closeView();
    super.dispose();
  }

  private _followSettings(): void {
    const interval = this._settings.current.slotsRefreshInterval;
    if (this._poll && interval !== this._poll.frequency.interval) {
      this._poll.frequency = pollFrequency(interval, BACKOFF_MAX_MS);
      void this._poll.refresh();
    }
  }

  private async _embed(kernelId: string): Promise<void> {
    const reply = await fetchView(kernelId, this._viewId);
    if (this._kernelId !== kernelId) {
      return;
    }
    if (!reply.item || !reply.scripts || !reply.bokeh_version) {
      this._setMessage(this._notRunning(reply));
      return;
    }
    const bokeh = await loadBokeh(reply.scripts, reply.bokeh_version);
    const target = document.createElement('div');
    this._host.replaceChildren(target);
    this._views = await bokeh.embed.embed_item(reply.item, target);
    this._setMessage('');
    this._poll = new Poll({
      factory: () => this._update(kernelId),
      frequency: pollFrequency(this._settings.current.slotsRefreshInterval, BACKOFF_MAX_MS),
      name: 'jupyter-nest:slots',
      standby: () => this.isHidden || 'when-hidden'
    });
  }

  private _stop(): void {
    this._poll?.dispose();
    this._poll = null;
    this._views?.clear();
    this._views = null;
    this._host.replaceChildren();
  }

  private async _update(kernelId: string): Promise<void> {
    const reply = await fetchColumns(kernelId, this._viewId);
    if (reply.cluster.state === 'stopped') {
      // A stopped cluster's last picture would pass for a live one: show why instead.
      this._stop();
    } else if (reply.reload) {
      this._stop();
      await this._embed(kernelId);
      return;
    }
    if (!reply.columns) {
      // A scheduler too busy to answer in time may answer the next poll: keep trying.
      this._setMessage(this._notRunning(reply));
      return;
    }
    this._setMessage('');
    this._apply(reply);
  }

  private _apply(reply: IViewReply): void {
    for (const view of this._views?.roots ?? []) {
      const doc = view.model.document;
      for (const [name, data] of Object.entries(reply.columns ?? {})) {
        const source = doc?.get_model_by_name(name);
        if (source) {
          source.data = data;
        }
      }
      for (const [id, ends] of Object.entries(reply.ranges ?? {})) {
        const range = doc?.get_model_by_id(id);
        if (range && (range.start !== ends.start || range.end !== ends.end)) {
          range.setv({ start: ends.start, end: ends.end });
        }
      }
    }
  }

  private _notRunning(reply: IViewReply): string {
    return reply.cluster.state === 'stopped'
      ? 'This cluster was stopped.'
      : reply.cluster.reason || 'The scheduler does not answer.';
  }

  private _setMessage(text: string): void {
    this._message.textContent = text;
    this._message.hidden = !text;
  }

  private _settings: NestSettings;
  private _viewId = UUID.uuid4();
  private _kernelId: string | null = null;
  private _views: any = null;
  private _poll: Poll | null = null;
  private _title: HTMLElement;
  private _message: HTMLElement;
  private _host: HTMLElement;
}
