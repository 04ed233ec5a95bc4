/**
 * Requests to the server extension under /jupyter-nest/, with the server's token.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ICluster, IViewReply } from './types';

async function request<T>(path: string): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'jupyter-nest', path);
  const response = await ServerConnection.makeRequest(url, {}, settings);
  const text = await response.text();
  let data: any;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!response.ok) {
    throw new Error(data?.message || `${response.status} ${response.statusText}`);
  }
  return data as T;
}

/** The clusters of the kernels this server runs. */
export async function listClusters(): Promise<ICluster[]> {
  const reply = await request<{ clusters: ICluster[] }>('clusters');
  return reply.clusters;
}

/** Start a slot view of one kernel's cluster: the Bokeh item to embed once. */
export function fetchView(kernelId: string, viewId: string): Promise<IViewReply> {
  return request<IViewReply>(`clusters/${encodeURIComponent(kernelId)}/view?view=${viewId}`);
}

/** Fresh data for a slot view already on the page. */
export function fetchColumns(kernelId: string, viewId: string): Promise<IViewReply> {
  return request<IViewReply>(`clusters/${encodeURIComponent(kernelId)}/columns?view=${viewId}`);
}
