/**
 * The "Nest" side panel: one card per cluster of the running kernels, with actions,
 * and the live slot view below the list.
 */
import { CommandRegistry } from '@lumino/commands';
import { Panel, Widget } from '@lumino/widgets';

import { CommandIDs, INestPanel } from './commandids';
import { clusterTitle, loadText, shapeText, stateText } from './format';
import { nestIcon } from './icon';
import { ClusterModel } from './model';
import { NestSettings } from './settings';
import { SlotsView } from './slots';
import { ICluster } from './types';

function element(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** The list of clusters, rebuilt from the model on every refresh. */
class ClusterList extends Widget {
  constructor(model: ClusterModel, commands: CommandRegistry) {
    super();
    this.addClass('jp-Nest-list');
    this._model = model;
    this._commands = commands;
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

  render(): void {
    const clusters = this._model.clusters;
    const children: HTMLElement[] = [];
    if (this._model.error) {
      children.push(element('div', 'jp-Nest-error', `Cannot list clusters: ${this._model.error}`));
    }
    if (clusters.length === 0) {
      const empty = element('div', 'jp-Nest-empty');
      empty.append(
        element('p', '', 'No clusters are running in this JupyterLab’s kernels.'),
        element('p', '', 'Start one from a notebook:'),
        element('pre', '', '%load_ext jupyter_nest\n%nest_cluster start')
      );
      children.push(empty);
    }
    for (const cluster of clusters) {
      children.push(this._card(cluster));
    }
    this.node.replaceChildren(...children);
  }

  private _card(c: ICluster): HTMLElement {
    const card = element('div', `jp-Nest-cluster jp-Nest-state-${c.state}`);
    card.dataset.kernelId = c.kernel_id;
    const head = element('div', 'jp-Nest-cluster-head');
    head.append(
      element('span', 'jp-Nest-cluster-title', clusterTitle(c)),
      element('span', 'jp-Nest-badge', stateText(c))
    );
    card.append(head, element('div', 'jp-Nest-address', c.scheduler));
    card.append(element('div', 'jp-Nest-kind', c.kind));
    if (c.state === 'running' && c.totals) {
      card.append(
        element('div', 'jp-Nest-shape', shapeText(c.totals)),
        element('div', 'jp-Nest-load', loadText(c.totals))
      );
    } else if (c.state === 'stopped') {
      card.append(element('div', 'jp-Nest-reason', 'Stopped from its notebook.'));
    } else {
      card.append(element('div', 'jp-Nest-reason', c.reason || 'The scheduler does not answer.'));
    }
    const note = this._notes.get(c.kernel_id);
    if (note) {
      card.append(element('div', 'jp-Nest-note', note));
    }
    if (c.state !== 'stopped') {
      card.append(this._actions(c));
    }
    return card;
  }

  private _actions(c: ICluster): HTMLElement {
    const bar = element('div', 'jp-Nest-actions');
    const button = (label: string, command: string, cls: string): HTMLButtonElement => {
      const b = element('button', `jp-Nest-button ${cls}`, label) as HTMLButtonElement;
      b.onclick = () => void this._commands.execute(command, { kernelId: c.kernel_id });
      return b;
    };
    if (c.state === 'running') {
      bar.append(button('Live slots', CommandIDs.showSlots, 'jp-Nest-show'));
      bar.append(button('In a tab', CommandIDs.slotsTab, 'jp-Nest-tab'));
      if (!c.remote) {
        bar.append(button('Scale…', CommandIDs.scale, 'jp-Nest-scale'));
      }
    }
    bar.append(button(c.remote ? 'Disconnect' : 'Stop', CommandIDs.stop, 'jp-Nest-stop'));
    if (c.dashboard) {
      const link = element('a', 'jp-Nest-dashboard', 'Dashboard') as HTMLAnchorElement;
      link.href = c.dashboard;
      link.target = '_blank';
      link.rel = 'noopener';
      bar.append(link);
    }
    return bar;
  }

  private _model: ClusterModel;
  private _commands: CommandRegistry;
  private _notes = new Map<string, string>();
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
