/**
 * The JSON the server extension returns (see jupyter_nest/labserver).
 */

/** Counts over the whole cluster, from the scheduler's snapshot. */
export interface ITotals {
  workers: number;
  threads: number;
  running: number;
  seceded: number;
  queued: number;
  done: number;
  erred: number;
}

/**
 * running: the scheduler answered; stopped: the kernel stopped it;
 * unreachable: registered as running but the scheduler does not answer.
 */
export type ClusterState = 'running' | 'stopped' | 'unreachable';

/** One cluster a kernel of this server started or connected to. */
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
