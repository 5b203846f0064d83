import init, { Client, features } from '../pkg/tabworker.js';

const $ = (id) => document.getElementById(id);

async function main() {
  await init();
  $('status').textContent = 'The wasm package is loaded.';
  const found = features();
  $('features').innerHTML = Object.entries(found)
    .map(([name, ok]) => `<tr><th>${name}</th><td class="${ok ? 'yes' : 'no'}">${ok ? 'yes' : 'no'}</td></tr>`)
    .join('');

  const client = new Client({ coordinator: new URL('./coordinator.js', import.meta.url).href, name: 'demo' });
  $('client-id').textContent = client.id;
  await client.initialize();
  $('coordinator-id').textContent = client.coordinatorId;
  const showRole = () => ($('role').textContent = client.role);
  showRole();
  setInterval(showRole, 250);
  addEventListener('pagehide', () => client.destroy());
}

main().catch((error) => {
  $('status').textContent = `Failed: ${error.name}${error.code ? ` (${error.code})` : ''}: ${error.message}`;
});
