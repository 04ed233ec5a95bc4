/**
 * How a cluster reads in the panel and the status bar.
 */
import { StatusField } from './settings';
import { ICluster, ITotals } from './types';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The notebook's file name, or the kernel when no notebook holds it. */
export function clusterTitle(cluster: ICluster): string {
  if (cluster.notebook) {
    return cluster.notebook.split('/').pop() || cluster.notebook;
  }
  return `kernel ${cluster.kernel_id.slice(0, 8)}`;
}

/** e.g. "2 workers x 2 threads". */
export function shapeText(totals: ITotals): string {
  const perWorker = totals.workers ? totals.threads / totals.workers : 0;
  if (Number.isInteger(perWorker) && totals.workers) {
    return `${plural(totals.workers, 'worker')} x ${plural(perWorker, 'thread')}`;
  }
  return `${plural(totals.workers, 'worker')}, ${plural(totals.threads, 'thread')}`;
}

/** e.g. "3 busy · 5 seceded · 2 queued". */
export function loadText(totals: ITotals): string {
  return `${totals.running} busy · ${totals.seceded} seceded · ${totals.queued} queued`;
}

const STATUS_PARTS: Record<StatusField, (t: ITotals) => string> = {
  workers: t => plural(t.workers, 'worker'),
  slots: t => `${t.running}/${t.threads} slots`,
  seceded: t => `${t.seceded} seceded`,
  queued: t => `${t.queued} queued`
};

/** The status bar's line with `fields`, e.g. "Nest: 2 workers · 3/4 slots · 5 seceded". */
export function statusText(cluster: ICluster, fields: readonly StatusField[]): string {
  if (cluster.state === 'stopped') {
    return 'Nest: cluster stopped';
  }
  if (cluster.state === 'unreachable' || !cluster.totals) {
    return 'Nest: scheduler not answering';
  }
  const totals = cluster.totals;
  const parts = fields.map(field => STATUS_PARTS[field](totals));
  return parts.length ? `Nest: ${parts.join(' · ')}` : 'Nest: running';
}

/** A word for the state badge. */
export function stateText(cluster: ICluster): string {
  switch (cluster.state) {
    case 'running':
      return 'running';
    case 'stopped':
      return 'stopped';
    default:
      return 'not answering';
  }
}
