/**
 * One cluster's card in the Nest panel. The list refreshes every few seconds; each
 * refresh updates the card's nodes in place, so a focused button or link keeps the
 * keyboard focus (a node taken out of the page loses it) and screen readers do not
 * hear the card anew.
 */
import { CommandIDs } from './commandids';
import { clusterTitle, loadText, shapeText, stateText } from './format';
import { ICluster } from './types';

export function element(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/** A line of text on the card, by its class name. */
interface ILine {
  cls: string;
  text: string;
}

/** A button of the card: its label and the command it runs. */
interface IAction {
  label: string;
  command: string;
  cls: string;
}

/** What the card says beyond the cluster itself. */
export interface ICardNotes {
  /** A passing note, e.g. that an action waits for the busy kernel. */
  note: string | null;
  /** How the cluster was stopped, when this JupyterLab stopped it. */
  stopped: string | null;
}

let nextId = 0;

export class ClusterCard {
  /** A card for the cluster of `kernelId`; its buttons run `run(command, args)`. */
  constructor(kernelId: string, run: (command: string, args: { kernelId: string; source: string }) => void) {
    this._kernelId = kernelId;
    this._run = run;
    this.node = element('div', 'jp-Nest-cluster');
    this.node.dataset.kernelId = kernelId;
    // A named group: a screen reader says which cluster a "Stop" button belongs to.
    this.node.setAttribute('role', 'group');
    this._title.id = `jp-Nest-cluster-title-${nextId++}`;
    this.node.setAttribute('aria-labelledby', this._title.id);
    const head = element('div', 'jp-Nest-cluster-head');
    head.append(this._title, this._badge);
    this.node.append(head, this._address, this._kind, this._details, this._note, this._actions);
  }

  readonly node: HTMLElement;

  update(c: ICluster, notes: ICardNotes): void {
    const cls = `jp-Nest-cluster jp-Nest-state-${c.state}`;
    if (this.node.className !== cls) {
      this.node.className = cls;
    }
    setText(this._title, clusterTitle(c));
    setText(this._badge, stateText(c));
    setText(this._address, c.scheduler);
    setText(this._kind, c.kind);
    this._setLines(this._lines(c, notes.stopped));
    setText(this._note, notes.note ?? '');
    this._note.hidden = !notes.note;
    this._setActions(c);
  }

  private _lines(c: ICluster, stopped: string | null): ILine[] {
    if (c.state === 'running' && c.totals) {
      return [
        { cls: 'jp-Nest-shape', text: shapeText(c.totals) },
        { cls: 'jp-Nest-load', text: loadText(c.totals) }
      ];
    }
    if (c.state === 'stopped') {
      return [{ cls: 'jp-Nest-reason', text: stopped ?? 'Stopped from its notebook.' }];
    }
    return [{ cls: 'jp-Nest-reason', text: c.reason || 'The scheduler does not answer.' }];
  }

  private _setLines(lines: ILine[]): void {
    const nodes = Array.from(this._details.children) as HTMLElement[];
    if (nodes.length === lines.length && nodes.every((n, i) => n.className === lines[i].cls)) {
      nodes.forEach((n, i) => setText(n, lines[i].text));
    } else {
      this._details.replaceChildren(...lines.map(l => element('div', l.cls, l.text)));
    }
  }

  /** Rebuild the buttons only when they change (e.g. Stop goes once stopped): rebuilding drops the focus. */
  private _setActions(c: ICluster): void {
    const actions: IAction[] = [];
    if (c.state === 'running') {
      actions.push({ label: 'Live slots', command: CommandIDs.showSlots, cls: 'jp-Nest-show' });
      actions.push({ label: 'In a tab', command: CommandIDs.slotsTab, cls: 'jp-Nest-tab' });
      if (!c.remote) {
        actions.push({ label: 'Scale…', command: CommandIDs.scale, cls: 'jp-Nest-scale' });
      }
    }
    if (c.state !== 'stopped') {
      actions.push({ label: c.remote ? 'Disconnect…' : 'Stop…', command: CommandIDs.stop, cls: 'jp-Nest-stop' });
    }
    const dashboard = c.state !== 'stopped' ? c.dashboard : null;
    const signature = JSON.stringify([actions, dashboard]);
    if (signature === this._signature) {
      return;
    }
    this._signature = signature;
    const nodes: HTMLElement[] = actions.map(a => {
      const b = element('button', `jp-Nest-button ${a.cls}`, a.label) as HTMLButtonElement;
      b.type = 'button';
      b.onclick = () => this._run(a.command, { kernelId: this._kernelId, source: 'panel' });
      return b;
    });
    if (dashboard) {
      const link = element('a', 'jp-Nest-dashboard', 'Dashboard') as HTMLAnchorElement;
      link.href = dashboard;
      link.target = '_blank';
      link.rel = 'noopener';
      link.setAttribute('aria-label', `Dashboard of ${clusterTitle(c)} (opens in a new tab)`);
      nodes.push(link);
    }
    this._actions.replaceChildren(...nodes);
    this._actions.hidden = nodes.length === 0;
  }

  private _kernelId: string;
  private _run: (command: string, args: { kernelId: string; source: string }) => void;
  private _signature = '';
  private _title = element('h3', 'jp-Nest-cluster-title');
  private _badge = element('span', 'jp-Nest-badge');
  private _address = element('div', 'jp-Nest-address');
  private _kind = element('div', 'jp-Nest-kind');
  private _details = element('div', 'jp-Nest-details');
  private _note = element('div', 'jp-Nest-note');
  private _actions = element('div', 'jp-Nest-actions');
}
