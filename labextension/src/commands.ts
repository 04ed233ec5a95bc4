/**
 * The Nest commands (in the palette, and behind the panel's buttons). Without a
 * kernelId argument they act on the active notebook's cluster.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ReadonlyPartialJSONObject, UUID } from '@lumino/coreutils';

import { CommandIDs, INestPanel } from './commandids';
import { clusterTitle } from './format';
import { nestIcon } from './icon';
import { runInKernel, scaleCode, stopCode } from './kernelactions';
import { ClusterModel } from './model';
import { NestSettings } from './settings';
import { SlotsView } from './slots';
import { ICluster } from './types';

/** What the Stop dialog says: which notebook's cluster, where, and what stopping ends. */
function stopQuestion(c: ICluster): string {
  const title = clusterTitle(c);
  if (c.remote) {
    return (
      `The kernel of ${title} is connected to the scheduler at ${c.scheduler}. ` +
      'Disconnecting leaves that scheduler and its workers running; the kernel keeps running.'
    );
  }
  return (
    `The kernel of ${title} started this ${c.kind} at ${c.scheduler}. Stopping it ends its ` +
    'workers and every task still running on them; the kernel keeps running.'
  );
}

export function addCommands(
  app: JupyterFrontEnd,
  model: ClusterModel,
  panel: INestPanel,
  notebooks: INotebookTracker | null,
  settings: NestSettings
): void {
  const { commands, shell, serviceManager } = app;

  /** The cluster a command is about: its kernelId argument, else the active notebook's. */
  const target = (args: ReadonlyPartialJSONObject): ICluster | undefined => {
    const kernelId =
      (args.kernelId as string | undefined) ??
      notebooks?.currentWidget?.sessionContext.session?.kernel?.id;
    return model.byKernel(kernelId);
  };
  const hasTarget = (args: ReadonlyPartialJSONObject) => target(args)?.state === 'running';

  /**
   * Run an action in the cluster's kernel, noting on its card while the kernel is busy;
   * resolves to what the kernel printed, or null when the action failed (the user was told).
   */
  const act = async (cluster: ICluster, what: string, code: string): Promise<string | null> => {
    panel.list.setNote(cluster.kernel_id, `${what}: sent to the kernel (it runs once the kernel is idle)…`);
    try {
      return await runInKernel(serviceManager, cluster.kernel_id, code);
    } catch (e) {
      await showErrorMessage(`Nest: ${what} failed`, (e as Error).message);
      return null;
    } finally {
      panel.list.setNote(cluster.kernel_id, null);
      await model.refresh();
    }
  };

  commands.addCommand(CommandIDs.open, {
    label: 'Nest: Show the Cluster Panel',
    execute: () => shell.activateById(panel.id)
  });
  commands.addCommand(CommandIDs.refresh, {
    label: 'Nest: Refresh Clusters',
    execute: () => model.refresh()
  });
  /** A command about one cluster: its kernelId argument, else the active notebook's. */
  const addClusterCommand = (
    id: string,
    label: string,
    run: (cluster: ICluster, args: ReadonlyPartialJSONObject) => Promise<void>,
    isEnabled: (args: ReadonlyPartialJSONObject) => boolean = hasTarget
  ) =>
    commands.addCommand(id, {
      label,
      isEnabled,
      execute: async args => {
        const cluster = target(args);
        if (cluster) {
          await run(cluster, args);
        }
      }
    });

  addClusterCommand(CommandIDs.showSlots, 'Nest: Show Live Slots of This Notebook’s Cluster', async cluster => {
    shell.activateById(panel.id);
    await panel.slots.open(cluster.kernel_id, clusterTitle(cluster));
  });
  // The side panel is narrow; a tab beside the notebook gives the figure room.
  addClusterCommand(CommandIDs.slotsTab, 'Nest: Show Live Slots in a Tab', async cluster => {
    const content = new SlotsView(settings);
    const widget = new MainAreaWidget({ content });
    widget.id = `jupyter-nest-slots-${UUID.uuid4()}`;
    widget.title.label = `Slots: ${clusterTitle(cluster)}`;
    widget.title.icon = nestIcon;
    widget.title.closable = true;
    shell.add(widget, 'main', { mode: 'split-right' });
    shell.activateById(widget.id);
    await content.open(cluster.kernel_id, clusterTitle(cluster));
  });
  addClusterCommand(
    CommandIDs.scale,
    'Nest: Scale This Notebook’s Cluster…',
    async (cluster, args) => {
      let n = args.n as number | undefined;
      if (n === undefined) {
        const result = await InputDialog.getNumber({
          title: `Scale the cluster of ${clusterTitle(cluster)} to how many workers?`,
          value: cluster.totals?.workers ?? 1
        });
        if (!result.button.accept || result.value === null) {
          return;
        }
        n = result.value;
      }
      await act(cluster, `Scale to ${n} workers`, scaleCode(n));
    },
    args => hasTarget(args) && !target(args)?.remote
  );
  // A cluster whose scheduler does not answer can still be stopped from its kernel.
  // `source: 'panel'` is how the panel's buttons say where the stop came from.
  addClusterCommand(
    CommandIDs.stop,
    'Nest: Stop This Notebook’s Cluster…',
    async (cluster, args) => {
      const verb = cluster.remote ? 'Disconnect' : 'Stop';
      const title = clusterTitle(cluster);
      const answer = await showDialog({
        title: cluster.remote ? `Disconnect ${title} from its cluster?` : `Stop the cluster of ${title}?`,
        body: stopQuestion(cluster),
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: verb })]
      });
      if (!answer.button.accept) {
        return;
      }
      const said = await act(cluster, verb, stopCode());
      if (said === null) {
        return;
      }
      const from = args.source === 'panel' ? 'the Nest panel' : 'a JupyterLab command';
      const how = `${cluster.remote ? 'Disconnected' : 'Stopped'} from ${from}.`;
      panel.list.setStopped(cluster, said ? `${how} The kernel said: ${said}` : how);
      Notification.success(`Nest: ${title}: ${how}`, { autoClose: 8000 });
    },
    args => (target(args)?.state ?? 'stopped') !== 'stopped'
  );
}
