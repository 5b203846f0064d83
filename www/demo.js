import init, { Client, features } from '../pkg/tabworker.js';

const $ = (id) => document.getElementById(id);

async function main() {
  await init();
  $('status').textContent = 'The wasm package is loaded.';
  const found = features();
  $('features').innerHTML = Object.entries(found)
    .map(([name, ok]) => `<tr><th>${name}</th><td class="${ok ? 'yes' : 'no'}">${ok ? 'yes' : 'no'}</td></tr>`)
    .join('');

  const client = new Client({
    coordinator: new URL('./coordinator.js', import.meta.url).href,
    backend: new URL('./backend.js', import.meta.url).href,
    name: 'demo',
  });
  $('client-id').textContent = client.id;
  client.addEventListener('rolechange', (event) => ($('role').textContent = event.detail.role));
  // The default backend is a backend like any other: follow its statuses by id.
  let unwatch = () => {};
  const follow = (backendId) => {
    unwatch();
    $('backend-id').textContent = backendId ?? '–';
    $('backend-status').textContent = '';
    if (backendId) unwatch = client.statusStream(backendId, (state) => ($('backend-status').textContent = state.status));
  };
  client.addEventListener('leader', (event) => {
    $('epoch').textContent = event.detail.epoch;
    follow(event.detail.backendId);
  });
  client.addEventListener('sessionend', () => ($('session').textContent = 'reconnecting…'));
  client.addEventListener('session', (event) => {
    const session = event.detail;
    $('session').textContent = session.id;
    session.port.onmessage = (message) => {
      $('count').textContent = message.data.count;
      $('tabs').textContent = message.data.tabs;
    };
  });
  $('increment').onclick = () => client.session?.port.postMessage({ op: 'increment' });
  await client.initialize();
  $('coordinator-id').textContent = client.coordinatorId;
  $('role').textContent = client.role;
  addEventListener('pagehide', () => client.destroy());
}

main().catch((error) => {
  $('status').textContent = `Failed: ${error.name}${error.code ? ` (${error.code})` : ''}: ${error.message}`;
});
