// The DevTools reader of scripts/bench.mjs, for the memory group and the
// idle figures of the scale-backends group: heaps of every page and worker
// of a BrowserContext, and CPU time and private memory of all of Chromium's
// processes (from /proc, Linux only).
import { readdirSync, readFileSync } from 'node:fs';
import { STEP_TIMEOUT_MS } from './pages.mjs';

/**
 * A browser-wide DevTools session that reaches every page, worker and
 * SharedWorker target (attached one at a time, not flattened, so that it
 * needs nothing of Playwright but its browser session), and reads Chromium's
 * processes from /proc.
 */
export class Inspector {
  /** Opens the browser session of `browser`. */
  static async open(browser) {
    return new Inspector(await browser.newBrowserCDPSession());
  }

  constructor(cdp) {
    this.cdp = cdp;
    this.next = 0;
    /** Answers awaited from targets, by `${sessionId} ${id}`. */
    this.waiting = new Map();
    cdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
      const { id, result, error } = JSON.parse(message);
      const settle = this.waiting.get(`${sessionId} ${id}`);
      if (!settle) return;
      this.waiting.delete(`${sessionId} ${id}`);
      settle(error ? new Error(`${error.message} (${error.code})`) : null, result);
    });
  }

  /** The browserContextId of `page` (of `context`). */
  async contextId(context, page) {
    const session = await context.newCDPSession(page);
    try {
      return (await session.send('Target.getTargetInfo')).targetInfo.browserContextId;
    } finally {
      await session.detach().catch(() => {});
    }
  }

  /** Calls `method` in the target attached as `sessionId`; rejects after STEP_TIMEOUT_MS. */
  call(sessionId, method, params = {}) {
    const id = (this.next += 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(`${sessionId} ${id}`);
        reject(new Error(`${method}: no answer within ${STEP_TIMEOUT_MS} ms`));
      }, STEP_TIMEOUT_MS);
      this.waiting.set(`${sessionId} ${id}`, (error, result) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(result);
      });
      this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch((error) => {
        clearTimeout(timer);
        this.waiting.delete(`${sessionId} ${id}`);
        reject(error);
      });
    });
  }

  /**
   * The heaps of every page, worker and SharedWorker of the browser context
   * `contextId`, each after a full GC, summed: `{ used, backing, wasm,
   * targets }`, in bytes: the V8 heap used; the backing stores V8 counts
   * (ArrayBuffers, external strings; not wasm memories); the size of every
   * WebAssembly.Memory found on the heaps (CDP Runtime.queryObjects).
   */
  async heaps(contextId) {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    const targets = targetInfos.filter((t) => t.browserContextId === contextId && ['page', 'worker', 'shared_worker'].includes(t.type));
    const each = await Promise.all(
      targets.map(async ({ targetId }) => {
        const { sessionId } = await this.cdp.send('Target.attachToTarget', { targetId, flatten: false });
        try {
          await this.call(sessionId, 'HeapProfiler.collectGarbage');
          const usage = await this.call(sessionId, 'Runtime.getHeapUsage');
          // Every WebAssembly.Memory on the heap, and the size of its buffer.
          const { result: prototype } = await this.call(sessionId, 'Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' });
          const { objects } = await this.call(sessionId, 'Runtime.queryObjects', { prototypeObjectId: prototype.objectId });
          const { result: wasm } = await this.call(sessionId, 'Runtime.callFunctionOn', {
            objectId: objects.objectId,
            functionDeclaration: 'function () { return this.reduce((sum, memory) => sum + memory.buffer.byteLength, 0); }',
            returnByValue: true,
          });
          return { ...usage, wasm: wasm.value };
        } finally {
          await this.cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
        }
      }),
    );
    return {
      used: each.reduce((sum, h) => sum + h.usedSize, 0),
      backing: each.reduce((sum, h) => sum + (h.backingStorageSize ?? 0), 0),
      wasm: each.reduce((sum, h) => sum + h.wasm, 0),
      targets: targets.length,
    };
  }

  /** The process ids of every Chromium process, from SystemInfo.getProcessInfo. */
  async pids() {
    const { processInfo } = await this.cdp.send('SystemInfo.getProcessInfo');
    return processInfo.map((p) => p.id);
  }

  /** CPU time of all of Chromium's threads, in ms (from /proc/<pid>/task/<tid>/schedstat), or null without /proc. */
  async cpuMs() {
    try {
      readdirSync('/proc/self/task');
    } catch {
      return null;
    }
    let ns = 0;
    for (const pid of await this.pids()) {
      let tasks;
      try {
        tasks = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // the process ended meanwhile
      }
      for (const tid of tasks) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        } catch {
          // the thread ended meanwhile
        }
      }
    }
    return ns / 1e6;
  }

  /** Private memory (clean and dirty, from /proc/<pid>/smaps_rollup) of all of Chromium's processes, in bytes, or null without /proc. */
  async privateBytes() {
    try {
      readFileSync('/proc/self/smaps_rollup');
    } catch {
      return null;
    }
    let kb = 0;
    for (const pid of await this.pids()) {
      let text;
      try {
        text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      for (const match of text.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(match[1]);
    }
    return kb * 1024;
  }

  /** What the context `contextId` holds now: its heaps and all of Chromium's private memory. */
  async footprint(contextId) {
    const heaps = await this.heaps(contextId);
    return { ...heaps, private: await this.privateBytes() };
  }
}
