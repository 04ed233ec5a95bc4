/**
 * Load BokehJS into the page from the server extension, which serves the Python
 * bokeh package's own files: the JS always matches the Python that made the view.
 */

declare global {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- augments the DOM's Window
  interface Window {
    Bokeh?: any;
  }
}

const loaded = new Map<string, Promise<void>>();

function fileName(url: string): string {
  return url.split('?')[0].split('/').pop() || url;
}

function loadScript(url: string): Promise<void> {
  const name = fileName(url);
  let promise = loaded.get(name);
  if (!promise) {
    promise = new Promise<void>((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url;
      script.async = false;
      script.onload = () => resolve();
      script.onerror = () => {
        loaded.delete(name);
        reject(new Error(`Could not load BokehJS from ${url}.`));
      };
      document.head.appendChild(script);
    });
    loaded.set(name, promise);
  }
  return promise;
}

/**
 * Make BokehJS `version` with the components in `scripts` available and return it.
 * BokehJS keeps each loaded version at window.Bokeh[version]; a notebook may have
 * loaded this one already (output_notebook), and loading it again would split its
 * documents from their plugins, so then only the plugins are added (a plugin that
 * is already there is not run twice).
 */
export async function loadBokeh(scripts: string[], version: string): Promise<any> {
  for (const url of scripts) {
    const main = /^bokeh(\.min)?\.js$/.test(fileName(url));
    if (main && window.Bokeh?.[version]) {
      continue;
    }
    await loadScript(url);
  }
  const bokeh = window.Bokeh?.[version];
  if (!bokeh?.embed) {
    throw new Error(`BokehJS ${version} did not load.`);
  }
  return bokeh;
}
