// The demo's document backend (tag `notes`): one shared note per document key,
// kept in the key's OPFS mount. Every edit is written to OPFS before it is
// acknowledged or shown to any tab, so a new backend for the key — after the
// leader tab closed or crashed — starts from the last acknowledged edit.
//   request 'load'            → { text, version, sessions }
//   request 'edit' { text, base } → { version }, after the write; every tab gets event 'changed' { text, version, by }.
//                               `base` is the version the edit was made on: if another edit was acknowledged
//                               since, the edit is not applied and the answer is { conflict: { text, version } }
//                               (an edit sent again after backend-lost never overwrites a newer one); the
//                               same text again is the edit already applied, answered with its version
//   request 'spin'            → never answers: the worker loops (stop it with a hard terminate)
//   request 'throw'           → an uncaught error in the worker (it ends with exit_error)
//   event 'presence'          → how many sessions are open, to every tab, when one opens or ends
import init, { serveBackend } from '../pkg/backend.js';

await init();

let note = { text: '', version: 0 };
let file = null;
/** Edits are written one after the other, in the order they came. */
let queue = Promise.resolve();

async function write(next) {
  const writable = await file.createWritable();
  await writable.write(JSON.stringify(next));
  await writable.close();
}

export const backend = serveBackend({
  async start(ctx) {
    if (!ctx.mount) throw new Error('the notes backend needs a mount: connect with executable: { mount: true }');
    file = await ctx.mount.getFileHandle('note.json', { create: true });
    const saved = await (await file.getFile()).text();
    if (saved) note = JSON.parse(saved);
  },
  session(session) {
    backend.broadcast('presence', backend.sessions);
    session.closed.then(() => backend.broadcast('presence', backend.sessions));
  },
  handlers: {
    load: () => ({ ...note, sessions: backend.sessions }),
    edit: ({ text, base }, session) => {
      if (typeof text !== 'string' || !Number.isInteger(base)) throw new Error('edit needs { text: string, base: number }');
      const done = queue.then(async () => {
        if (text === note.text) return { version: note.version };
        if (base !== note.version) return { conflict: { text: note.text, version: note.version } };
        const next = { text, version: note.version + 1 };
        await write(next);
        note = next;
        backend.broadcast('changed', { ...next, by: session.clientId });
        return { version: next.version };
      });
      queue = done.catch(() => {});
      return done;
    },
    spin: () => {
      for (;;) {
        // Busy on purpose: only a hard terminate stops this worker.
      }
    },
    throw: () => {
      setTimeout(() => {
        throw new Error('thrown on purpose (the demo\'s throw button)');
      });
      return 'throwing';
    },
  },
});
