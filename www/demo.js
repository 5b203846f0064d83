// The demo: shared notes per document key, held by `notes` backends (see
// notes-backend.js), written with tabworker's public API only.
import init, { Client, features } from '../pkg/tabworker.js';

const $ = (id) => document.getElementById(id);
const worker = (script) => (name) => new Worker(new URL(script, import.meta.url), { type: 'module', name });

/** Every backend this tab followed, by backend id: { key, tag, id, status, reason, sessions, handle }. */
const backends = new Map();

function render() {
  $('backends').tBodies[0].innerHTML = '';
  for (const row of backends.values()) {
    const tr = $('backends').tBodies[0].insertRow();
    if (row.status === 'terminated') tr.className = 'ended';
    tr.dataset.key = row.key;
    tr.dataset.status = row.status ?? '';
    tr.dataset.reason = row.reason ?? '';
    for (const value of [row.key, row.tag, row.id, row.status ?? '…', row.reason ?? '', row.sessions ?? '']) {
      const td = tr.insertCell();
      td.textContent = value;
    }
    const actions = tr.insertCell();
    if (row.status !== 'terminated' && row.handle) {
      for (const [label, act] of Object.entries(row.actions)) {
        const button = document.createElement('button');
        button.textContent = label;
        button.onclick = act;
        actions.append(button);
      }
    }
  }
}

function follow(row) {
  backends.set(row.id, row);
  render();
}

async function main() {
  await init();
  $('status').textContent = 'The wasm package is loaded.';
  $('features').innerHTML = Object.entries(features())
    .map(([name, ok]) => `<tr><th>${name}</th><td class="${ok ? 'yes' : 'no'}">${ok ? 'yes' : 'no'}</td></tr>`)
    .join('');

  const client = new Client({
    name: 'demo',
    coordinator: (name) => new SharedWorker(new URL('./coordinator.js', import.meta.url), { type: 'module', name }),
    backend: worker('./backend.js'),
    backends: { notes: worker('./notes-backend.js') },
  });
  $('client-id').textContent = client.id;
  client.addEventListener('rolechange', (event) => ($('role').textContent = event.detail.role));
  client.addEventListener('leader', (event) => {
    $('leader-id').textContent = event.detail.leaderId;
    $('epoch').textContent = event.detail.epoch;
    const id = event.detail.backendId;
    if (!id || backends.has(id)) return;
    // The default backend is a backend like any other: follow its statuses by id.
    const row = { key: 'tabworker:default', tag: '(default)', id };
    follow(row);
    client.statusStream(id, (state) => {
      Object.assign(row, { status: state.status, reason: state.termination_reason ?? '' });
      render();
    });
  });
  await client.initialize();
  $('role').textContent = client.role;
  addEventListener('pagehide', () => client.destroy());

  let doc = null;
  const note = $('note');
  /** Whether this tab has typed something not acknowledged yet. */
  let dirty = false;

  async function open(name) {
    doc?.handle.destroy();
    const key = `doc:${name}`;
    $('doc-key').textContent = key;
    note.disabled = true;
    $('doc-status').textContent = 'opening…';
    const handle = await client.connectBackend(
      { key, spawn: { tag: 'notes', executable: { mount: true }, max_idle_seconds: 600 } },
      { reconnect: true },
    );
    const current = { key, handle, version: 0, sessions: '' };
    doc = current;
    const show = (text) => {
      $('doc-status').textContent = `version ${current.version} · ${current.sessions} tab(s) editing · backend ${handle.backendId}`;
      if (text !== undefined && text !== note.value) note.value = text;
    };
    const load = async () => {
      const { text, version, sessions } = await handle.request('load', null);
      // A tab with an edit not acknowledged keeps the version that edit was made on.
      Object.assign(current, dirty ? { sessions } : { version, sessions });
      // What this tab typed and the backend has not acknowledged is sent again, on the version it
      // was made on: it wins over what was saved unless another tab's edit was acknowledged since.
      if (dirty) {
        show();
        save().catch(() => {});
      } else {
        show(text);
      }
      note.disabled = false;
    };
    const rowOf = () => {
      const id = handle.backendId;
      if (!backends.has(id)) {
        follow({
          key,
          tag: 'notes',
          id,
          handle,
          actions: {
            'terminate': () => client.terminate(id),
            'hard terminate': () => client.terminate(id, { hard: true }),
            'spin': () => handle.request('spin', null, { timeoutMs: 1000 }).catch(() => {}),
            'throw': () => handle.request('throw', null).catch(() => {}),
          },
        });
      }
      return backends.get(id);
    };
    handle.onStatus((state) => {
      Object.assign(rowOf(), { status: state.status, reason: state.termination_reason ?? '' });
      render();
    });
    handle.on('changed', ({ text, version, by }) => {
      current.version = version;
      show(by === client.id ? undefined : text);
    });
    handle.on('presence', (sessions) => {
      current.sessions = sessions;
      rowOf().sessions = sessions;
      render();
      show();
    });
    // A new backend for the key (the leader went): it starts from what was saved.
    handle.onReconnect(() => load().catch(() => {}));
    await handle.ready();
    await load();
  }

  /**
   * Sends the whole text, one edit at a time, each on the version this tab last saw: an edit whose
   * backend was lost before it answered is sent again on that same version, so it never overwrites
   * an edit another tab made meanwhile (the backend answers with that one instead, which is shown).
   */
  let saving = null;
  function save() {
    saving ??= (async () => {
      const current = doc;
      try {
        while (dirty && current === doc) {
          const text = note.value;
          const base = current.version;
          const answer = await send(current, { text, base });
          if (!answer || current !== doc) return;
          if (answer.conflict) {
            current.version = answer.conflict.version;
            dirty = false;
            note.value = answer.conflict.text;
            $('doc-status').textContent = `version ${current.version} · another tab's edit was kept over yours (made on version ${base})`;
            return;
          }
          current.version = Math.max(current.version, answer.version);
          if (note.value === text) dirty = false;
          $('doc-status').textContent = `version ${current.version} · saved · backend ${current.handle.backendId}`;
        }
      } finally {
        saving = null;
      }
    })();
    return saving;
  }

  /** One edit, sent again while its backend is lost or ends under it. */
  async function send(current, edit) {
    for (let attempt = 0; attempt < 20 && current === doc; attempt++) {
      try {
        return await current.handle.request('edit', edit, { timeoutMs: 10_000 });
      } catch (error) {
        if (!['backend-lost', 'backend-terminated', 'timeout'].includes(error.code)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return null;
  }

  let pending = null;
  note.addEventListener('input', () => {
    dirty = true;
    clearTimeout(pending);
    pending = setTimeout(() => save().catch((error) => ($('doc-status').textContent = error.message)), 100);
  });
  $('open').onclick = () => open($('doc-name').value.trim() || 'welcome');
  const start = new URLSearchParams(location.search).get('doc') ?? 'welcome';
  $('doc-name').value = start;
  await open(start);
}

main().catch((error) => {
  $('status').textContent = `Failed: ${error.name}${error.code ? ` (${error.code})` : ''}: ${error.message}`;
});
