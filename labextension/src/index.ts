/**
 * jupyter-nest: the Nest side panel, status bar item and commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { CommandIDs, PALETTE_COMMANDS } from './commandids';
import { addCommands } from './commands';
import { ClusterModel } from './model';
import { NestPanel } from './panel';
import { NestStatus } from './statusbar';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-nest:plugin',
  description: 'The Dask clusters of the running kernels: a side panel with live slots, and a status bar item.',
  autoStart: true,
  optional: [ICommandPalette, IStatusBar, INotebookTracker, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null
  ) => {
    const model = new ClusterModel();
    const panel = new NestPanel(model, app.commands);
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);

    addCommands(app, model, panel, notebooks);
    for (const command of PALETTE_COMMANDS) {
      palette?.addItem({ command, category: 'Nest' });
    }

    if (statusBar && notebooks) {
      const item = new NestStatus(model, notebooks, () => app.commands.execute(CommandIDs.open));
      statusBar.registerStatusItem('jupyter-nest:status', {
        item,
        align: 'left',
        rank: 4,
        isActive: () => item.active,
        activeStateChanged: item.activeChanged
      });
    }
  }
};

export default plugin;
