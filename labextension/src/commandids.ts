/**
 * The contract between the commands and the side panel: the command ids (the panel's
 * buttons run them) and what the commands need of the panel. Both commands.ts and
 * panel.ts import this module, so neither has to import the other.
 */

export namespace CommandIDs {
  export const open = 'jupyter-nest:open';
  export const refresh = 'jupyter-nest:refresh';
  export const showSlots = 'jupyter-nest:show-slots';
  export const slotsTab = 'jupyter-nest:show-slots-tab';
  export const scale = 'jupyter-nest:scale';
  export const stop = 'jupyter-nest:stop';
}

export const PALETTE_COMMANDS = [
  CommandIDs.open,
  CommandIDs.refresh,
  CommandIDs.showSlots,
  CommandIDs.slotsTab,
  CommandIDs.scale,
  CommandIDs.stop
];

import { ICluster } from './types';

/** What the commands use of the side panel (NestPanel implements it). */
export interface INestPanel {
  /** The panel's widget id, to activate it in the shell. */
  readonly id: string;
  /**
   * The cluster list: a note on one cluster's card (or null to clear it), and how a
   * cluster was stopped, for its card to say once it shows as stopped.
   */
  readonly list: {
    setNote(kernelId: string, note: string | null): void;
    setStopped(cluster: ICluster, how: string): void;
  };
  /** The slot view below the list. */
  readonly slots: { open(kernelId: string, title: string): Promise<void> };
}
