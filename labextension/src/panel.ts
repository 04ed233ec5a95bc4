/**
 * The "Nest" side panel: one card per cluster of the running kernels, with actions,
 * and the live slot view below the list.
 */
import { CommandRegistry } from '@lumino/commands';
import { Panel, Widget } from '@lumino/widgets';

import { ClusterCard, element } from './cards';
import { INestPanel } from './commandids';
import { nestIcon } from './icon';
import { ClusterModel } from './model';
import { NestSettings } from './settings';
import { SlotsView } from './slots';
import { ICluster } from './types';

/** A cluster's start, by kernel: a kernel that starts a new cluster gets a new key. */
function clusterKey(c: ICluster): string {
  return `${c.kernel_id}@${c.started}`;
}

/** The list of clusters, brought up to date from the model on every refresh. */
class ClusterList extends Widget {
  constructor(model: ClusterModel, commands: CommandRegistry) {
    super();
    this.addClass('jp-Nest-list');
    this._model = model;
    this._commands = commands;
    this._empty.append(
      element('p', '', 'No clusters are running in this JupyterLab’s kernels.'),
      element('p', '', 'Start one from a notebook:'),
      element('pre', '', '%load_ext jupyter_nest\n%nest_cluster start')
    );
    this.node.append(this._error, this._empty, this._cards);
    model.changed.connect(this.render, this);
    this.render();
  }

  /** A note for one card, e.g. that a stop was sent and waits for the busy kernel. */
  setNote(kernelId: string, note: string | null): void {
    if (note) {
      this._notes.set(kernelId, note);
    } else {
      this._notes.delete(kernelId);
    }
    this.render();
  }

  /** Say on the card of `cluster`, once it shows as stopped, how it was stopped. */
  setStopped(cluster: ICluster, how: string): void {
    this._stopped.set(clusterKey(cluster), how);
    this.render();
  }

  render(): void {
    const error = this._model.error;
    this._error.textContent = error ? `Cannot list clusters: ${error}` : '';
    this._error.hidden = !error;
    const clusters = this._model.clusters;
    this._empty.hidden = clusters.length > 0;
    const wanted: HTMLElement[] = [];
    for (const c of clusters) {
      let card = this._byKernel.get(c.kernel_id);
      if (!card) {
        card = new ClusterCard(c.kernel_id, (command, args) => void this._commands.execute(command, args));
        this._byKernel.set(c.kernel_id, card);
      }
      card.update(c, { note: this._notes.get(c.kernel_id) ?? null, stopped: this._stopped.get(clusterKey(c)) ?? null });
      wanted.push(card.node);
    }
    for (const [kernelId, card] of this._byKernel) {
      if (!wanted.includes(card.node)) {
        card.node.remove();
        this._byKernel.delete(kernelId);
      }
    }
    // Move only the cards out of place: a card taken out and put back loses the focus inside it.
    wanted.forEach((node, i) => {
      if (this._cards.children[i] !== node) {
        this._cards.insertBefore(node, this._cards.children[i] ?? null);
      }
    });
  }

  private _model: ClusterModel;
  private _commands: CommandRegistry;
  private _notes = new Map<string, string>();
  private _stopped = new Map<string, string>();
  private _byKernel = new Map<string, ClusterCard>();
  private _error = element('div', 'jp-Nest-error');
  private _empty = element('div', 'jp-Nest-empty');
  private _cards = element('div', 'jp-Nest-cards');
}

/** The side panel: a header, the cluster list and the slot view. */
export class NestPanel extends Panel implements INestPanel {
  constructor(model: ClusterModel, commands: CommandRegistry, settings: NestSettings) {
    super();
    this.id = 'jupyter-nest-panel';
    this.addClass('jp-Nest-panel');
    this.title.icon = nestIcon;
    this.title.caption = 'Nest: Dask clusters of the running kernels';
    const header = new Widget();
    header.addClass('jp-Nest-header');
    header.node.append(element('h2', '', 'Nest clusters'));
    this.list = new ClusterList(model, commands);
    this.slots = new SlotsView(settings);
    this.addWidget(header);
    this.addWidget(this.list);
    this.addWidget(this.slots);
  }

  readonly list: ClusterList;
  readonly slots: SlotsView;
}
