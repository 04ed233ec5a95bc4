/**
 * The status bar item for the active notebook's kernel, e.g.
 * "Nest: 2 workers · 3/4 slots · 5 seceded"; hidden when that kernel has no cluster.
 */
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { statusText } from './format';
import { ClusterModel } from './model';
import { ICluster } from './types';

export class NestStatus extends Widget {
  constructor(model: ClusterModel, notebooks: INotebookTracker, onClick: () => void) {
    super();
    this.addClass('jp-Nest-status');
    this.node.title = 'Nest: the cluster of this notebook’s kernel (click for the panel)';
    this.node.onclick = onClick;
    this._model = model;
    this._notebooks = notebooks;
    model.changed.connect(this._render, this);
    notebooks.currentChanged.connect(this._render, this);
    this._render();
  }

  /** Emitted when the item should appear or disappear. */
  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  /** Whether the active notebook's kernel has a cluster to show. */
  get active(): boolean {
    return this._cluster !== undefined;
  }

  private _render(): void {
    const kernelId = this._notebooks.currentWidget?.sessionContext.session?.kernel?.id;
    const cluster = this._model.byKernel(kernelId);
    const wasActive = this.active;
    this._cluster = cluster;
    this.node.textContent = cluster ? statusText(cluster) : '';
    this.node.dataset.state = cluster?.state ?? 'none';
    if (wasActive !== this.active) {
      this._activeChanged.emit();
    }
  }

  private _model: ClusterModel;
  private _notebooks: INotebookTracker;
  private _cluster: ICluster | undefined;
  private _activeChanged = new Signal<this, void>(this);
}
