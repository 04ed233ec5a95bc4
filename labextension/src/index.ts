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
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { CommandIDs, PALETTE_COMMANDS } from './commandids';
import { addCommands } from './commands';
import { ClusterModel } from './model';
import { NestPanel } from './panel';
import { NestSettings } from './settings';
import { NestStatus } from './statusbar';

// The settings schema is schema/plugin.json: the part of the id after the colon.
const PLUGIN_ID = 'jupyter-nest:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The Dask clusters of the running kernels: a side panel with live slots, and a status bar item.',
  autoStart: true,
  optional: [ICommandPalette, IStatusBar, INotebookTracker, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    registry: ISettingRegistry | null
  ) => {
    const settings = new NestSettings();
    if (registry) {
      settings.follow(registry, PLUGIN_ID).catch(reason => {
        console.error('jupyter-nest: cannot read the settings; using the defaults.', reason);
      });
    }
    const model = new ClusterModel(settings);
    const panel = new NestPanel(model, app.commands, settings);
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);

    addCommands(app, model, panel, notebooks, settings);
    for (const command of PALETTE_COMMANDS) {
      palette?.addItem({ command, category: 'Nest' });
    }

    if (statusBar && notebooks) {
      const item = new NestStatus(model, notebooks, settings, () => app.commands.execute(CommandIDs.open));
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
