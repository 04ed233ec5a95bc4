/**
 * The status bar item for the active notebook's kernel, e.g.
 * "Nest: 2 workers · 3/4 slots · 5 seceded": a button that opens the Nest panel.
 * Hidden when that kernel has no cluster, or when the settings say so.
 */
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { statusText } from './format';
import { ClusterModel } from './model';
import { NestSettings } from './settings';

export class NestStatus extends Widget {
  constructor(model: ClusterModel, notebooks: INotebookTracker, settings: NestSettings, onClick: () => void) {
    // A real button: in the tab order, and Enter or Space presses it.
    const button = document.createElement('button');
    button.type = 'button';
    super({ node: button });
    this.addClass('jp-Nest-status');
    this.node.title = 'Nest: the cluster of this notebook’s kernel. Opens the Nest panel.';
    this.node.addEventListener('click', onClick);
    this._model = model;
    this._notebooks = notebooks;
    this._settings = settings;
    model.changed.connect(this._render, this);
    notebooks.currentChanged.connect(this._render, this);
    settings.changed.connect(this._render, this);
    this._render();
  }

  /** Emitted when the item should appear or disappear. */
  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  /** Whether to show the item: the active notebook's kernel has a cluster, and the settings allow. */
  get active(): boolean {
    return this._active;
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    this._notebooks.currentChanged.disconnect(this._render, this);
    this._settings.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const kernelId = this._notebooks.currentWidget?.sessionContext.session?.kernel?.id;
    const cluster = this._model.byKernel(kernelId);
    const text = cluster ? statusText(cluster, this._settings.current.statusBarFields) : '';
    // Rewriting the same text would make screen readers on a focused button announce it again.
    if (this.node.textContent !== text) {
      this.node.textContent = text;
    }
    this.node.dataset.state = cluster?.state ?? 'none';
    const active = cluster !== undefined && this._settings.current.showStatusBar;
    if (active !== this._active) {
      this._active = active;
      this._activeChanged.emit();
    }
  }

  private _model: ClusterModel;
  private _notebooks: INotebookTracker;
  private _settings: NestSettings;
  private _active = false;
  private _activeChanged = new Signal<this, void>(this);
}
