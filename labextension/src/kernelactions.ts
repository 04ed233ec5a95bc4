/**
 * Run cluster actions inside the kernel that owns the cluster: the cluster object
 * lives there, so scaling and stopping go through that kernel's own API.
 */
import { KernelMessage, ServiceManager } from '@jupyterlab/services';

/** Python that scales the kernel's cluster to `n` workers. */
export function scaleCode(n: number): string {
  return (
    "__import__('jupyter_nest.cluster', fromlist=['require'])" +
    `.require('Scaling from the Nest panel').scale(${Math.trunc(n)})`
  );
}

/** Python that stops the kernel's cluster (or disconnects from a remote one) and prints what it did. */
export function stopCode(): string {
  return "print(__import__('jupyter_nest').stop())";
}

/**
 * Execute `code` in the kernel `kernelId` without touching its history; resolves to
 * what it printed, and rejects with the kernel's error message when the code fails.
 */
export async function runInKernel(
  services: ServiceManager.IManager,
  kernelId: string,
  code: string
): Promise<string> {
  const model = await services.kernels.findById(kernelId);
  if (!model) {
    throw new Error(`Kernel ${kernelId} is no longer running.`);
  }
  const kernel = services.kernels.connectTo({ model, handleComms: false });
  try {
    const future = kernel.requestExecute({ code, store_history: false, silent: false });
    let printed = '';
    future.onIOPub = msg => {
      if (KernelMessage.isStreamMsg(msg)) {
        printed += msg.content.text;
      }
    };
    const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
    const content = reply.content;
    if (content.status === 'error') {
      throw new Error(`${content.ename}: ${content.evalue}`);
    }
    return printed.trim();
  } finally {
    kernel.dispose();
  }
}
