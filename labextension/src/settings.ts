/**
 * The user's settings of the panel and the status bar (schema/plugin.json, editable in
 * the Settings Editor), shared by the parts that read them, which follow every change.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IPoll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

/** What the status bar item can show, in the order it shows them. */
export const STATUS_FIELDS = ['workers', 'slots', 'seceded', 'queued'] as const;
export type StatusField = (typeof STATUS_FIELDS)[number];

export interface INestSettings {
  /** Milliseconds between refreshes of the cluster list (panel and status bar). */
  refreshInterval: number;
  /** Milliseconds between refreshes of an open live slot view. */
  slotsRefreshInterval: number;
  showStatusBar: boolean;
  statusBarFields: readonly StatusField[];
}

/** The schema's defaults, in force until the setting registry has answered (or without one). */
const DEFAULTS: INestSettings = {
  refreshInterval: 2000,
  slotsRefreshInterval: 1000,
  showStatusBar: true,
  statusBarFields: ['workers', 'slots', 'seceded']
};

/** Every `interval` ms, backing off after failures to at most `backoffMax` ms (or the interval, if longer). */
export function pollFrequency(interval: number, backoffMax: number): IPoll.Frequency {
  return { interval, backoff: true, max: Math.max(interval, backoffMax) };
}

export class NestSettings {
  /** The settings in force. */
  get current(): INestSettings {
    return this._current;
  }

  /** Emitted whenever the user changes a setting. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Read the settings of `pluginId` from the registry, now and after every change. */
  async follow(registry: ISettingRegistry, pluginId: string): Promise<void> {
    const settings = await registry.load(pluginId);
    this._read(settings);
    settings.changed.connect(this._read, this);
  }

  private _read(settings: ISettingRegistry.ISettings): void {
    const get = <T>(key: keyof INestSettings): T => settings.get(key).composite as T;
    // A user's object may name only some fields: the others keep their defaults.
    const fields = get<Partial<Record<StatusField, boolean>>>('statusBarFields') ?? {};
    const shown = (f: StatusField) => fields[f] ?? DEFAULTS.statusBarFields.includes(f);
    this._current = {
      refreshInterval: get<number>('refreshInterval'),
      slotsRefreshInterval: get<number>('slotsRefreshInterval'),
      showStatusBar: get<boolean>('showStatusBar'),
      statusBarFields: STATUS_FIELDS.filter(shown)
    };
    this._changed.emit();
  }

  private _current: INestSettings = DEFAULTS;
  private _changed = new Signal<this, void>(this);
}
