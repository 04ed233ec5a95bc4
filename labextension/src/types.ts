/**
 * The JSON the server extension and the scheduler send, mirrored from the TypedDicts in
 * jupyter_nest/_wire.py (tests/test_house.py checks that the field names agree).
 */

/** Counts over the whole cluster, from the scheduler's snapshot (_wire.Totals). */
export interface ITotals {
  workers: number;
  threads: number;
  running: number;
  seceded: number;
  queued: number;
  waiting: number;
  done: number;
  erred: number;
}

/** A task in a snapshot: in a slot, seceded, or blocked (_wire.SlotTask). */
export interface ISlotTask {
  key: string;
  name: string;
  since: number;
  call?: string;
  parent?: string;
  inline?: number;
  waiting_on?: number;
}

/** One worker in a snapshot (_wire.WorkerSlots). */
export interface IWorkerSlots {
  address: string;
  name: string;
  nthreads: number;
  status: string;
  memory: number;
  memory_limit: number;
  slots: (ISlotTask | null)[];
  seceded: ISlotTask[];
  seceded_more: number;
  blocked: ISlotTask[];
  queued: number;
  threads: number;
  reported: number | null;
}

/** What the monitor's nest_snapshot handler returns (_wire.Snapshot). */
export interface ISnapshot {
  version: number;
  time: number;
  scheduler: string;
  workers: IWorkerSlots[];
  totals: ITotals;
}

/** Children of a tree node that are counted, not listed (_wire.Hidden). */
export interface IHidden {
  tasks: number;
  states: Record<string, number>;
  more: boolean;
}

/** A node of the lineage tree (_wire.TreeNode). */
export interface ITreeNode {
  key: unknown;
  name: string;
  state: string;
  children: ITreeNode[];
  hidden?: IHidden;
}

/**
 * running: the scheduler answered; stopped: the kernel stopped it;
 * unreachable: registered as running but the scheduler does not answer.
 */
export type ClusterState = 'running' | 'stopped' | 'unreachable';

/** One cluster a kernel of this server started or connected to (_wire.ClusterCard). */
export interface ICluster {
  kernel_id: string;
  kernel_name: string | null;
  notebook: string | null;
  execution_state: string | null;
  scheduler: string;
  dashboard: string | null;
  kind: string;
  remote: boolean;
  state: ClusterState;
  reason: string | null;
  started: number;
  stopped: number | null;
  totals: ITotals | null;
  snapshot_time: number | null;
}

/** Column data of every named ColumnDataSource of the slot view. */
export type Columns = Record<string, Record<string, unknown[]>>;

/** The reply of clusters/<kernel>/view and clusters/<kernel>/columns. */
export interface IViewReply {
  cluster: ICluster;
  /** view: the Bokeh json_item to embed, the BokehJS files it needs and their version. */
  item?: Record<string, unknown>;
  scripts?: string[];
  bokeh_version?: string;
  /** columns: new data by source name, and new axis ends by model id. */
  columns?: Columns;
  ranges?: Record<string, { start: number; end: number }>;
  /** columns: the server no longer has this view; embed a new one. */
  reload?: boolean;
}
