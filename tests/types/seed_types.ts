// The package's .d.ts carries the seed's types under the seed's names, and
// the API is typed (not `any`). Each `@ts-expect-error` line must fail to
// type-check; if a type were loosened, tsc would report the directive unused.
import type { BackendConfig, BackendContext, BackendSession } from '../../pkg/backend.js';
import type {
  BackendState,
  BackendStatus,
  BrowserFeatures,
  ClientOptions,
  ConnectRequest,
  ConnectResponse,
  KeyedSession,
  Role,
  TabworkerError,
  TerminationKind,
  TerminationReason,
} from '../../pkg/tabworker.js';
import { Client, features } from '../../pkg/tabworker.js';

export const request: ConnectRequest = {
  key: 'doc-1',
  spawn: {
    tag: 'sqlite',
    lifetime_limit_seconds: 3600,
    max_idle_seconds: 60,
    executable: {
      mount: true,
      env: { MODE: 'fast' },
      resource_limits: { cpu_period: 100000, cpu_period_percent: 50, cpu_time_limit: 10, memory_limit_bytes: 1, disk_limit_bytes: 2 },
    },
  },
  user: 'ada',
  auth: { role: 'admin' },
};
export const spawnOnly: ConnectRequest = { spawn: true };
// @ts-expect-error spawn is a boolean or an object
export const badSpawn: ConnectRequest = { spawn: 'yes' };
// @ts-expect-error env values are strings
export const badEnv: ConnectRequest = { spawn: { executable: { env: { A: 1 } } } };

export const response: ConnectResponse = {
  backend_id: 'b-1',
  spawned: true,
  status: 'scheduled',
  token: 't',
  url: 'u',
  secret_token: null,
  status_url: 's',
  ready_url: 'r',
};
// @ts-expect-error status_url is required
export const badResponse: ConnectResponse = { backend_id: 'b', spawned: false, status: 'ready', token: 't', url: 'u', ready_url: 'r' };

export const statuses: BackendStatus[] = ['scheduled', 'loading', 'starting', 'waiting', 'ready', 'terminating', 'hard-terminating', 'terminated'];
// @ts-expect-error the seed writes hard-terminating with a hyphen
export const badStatus: BackendStatus = 'hard_terminating';
export const kinds: TerminationKind[] = ['soft', 'hard'];
export const reasons: TerminationReason[] = ['swept', 'external', 'key_expired', 'lost', 'startup_timeout'];
// @ts-expect-error the seed writes key_expired with an underscore
export const badReason: TerminationReason = 'key-expired';

export const states: BackendState[] = [
  { status: 'ready', time: '2026-11-22T10:00:00.000Z' },
  { status: 'terminating', time: '2026-11-22T10:00:00.000Z', termination_reason: 'external' },
  { status: 'terminated', time: '2026-11-22T10:00:00.000Z', termination_reason: null, termination_kind: 'soft', exit_error: false },
];
// @ts-expect-error terminating carries a termination reason
export const badState: BackendState = { status: 'terminating', time: '2026-11-22T10:00:00.000Z' };

export function api(options: ClientOptions): Role {
  const found: BrowserFeatures = features();
  const webLocks: boolean = found.webLocks;
  // @ts-expect-error features() is typed, so unknown fields are errors
  found.serviceWorker;
  const client = new Client(options);
  const role: Role = client.role;
  // @ts-expect-error role is 'leader' | 'follower', not any string
  const notRole: 'observer' = client.role;
  void webLocks, notRole;
  return role;
}

export function code(error: TabworkerError): string {
  switch (error.code) {
    case 'web-locks-unavailable':
    case 'shared-worker-unavailable':
      return 'missing feature';
    // @ts-expect-error codes are a closed set
    case 'no-such-code':
      return 'never';
    default:
      return error.code;
  }
}

export async function keyed(client: Client): Promise<string> {
  const response: ConnectResponse = await client.connect({ key: 'room', spawn: { tag: 'chat', max_idle_seconds: 60 } });
  // @ts-expect-error spawn is a boolean or a spawn configuration
  void client.connect({ key: 'room', spawn: 'yes' });
  const session: KeyedSession = await client.open(response.url);
  const port: MessagePort = session.port;
  const stop: () => void = client.statusStream(response.status_url, (state: BackendState) => {
    // @ts-expect-error a BackendState's status is a BackendStatus
    const wrong: 'gone' = state.status;
    void wrong;
  });
  const ready: BackendState = await client.ready(response.ready_url);
  const ended: BackendState = await client.terminate(response.backend_id, { hard: true });
  // @ts-expect-error terminate's options are typed
  void client.terminate(response.backend_id, { force: true });
  void port, stop, ready, ended;
  return session.backendId;
}

export function defaultBackend(client: Client): string | undefined {
  // The default backend is watched and stopped by id like any other.
  const id: string | undefined = client.backendId;
  client.addEventListener('session', (event) => {
    if (event.type === 'session') {
      const sessionBackend: string | null = event.detail.backendId;
      void sessionBackend;
    }
    if (event.type === 'leader') {
      const named: string | null = event.detail.backendId;
      void named;
    }
  });
  if (id !== undefined) void client.statusStream(id, () => {});
  return id;
}

export const config: BackendConfig = {
  declaresReady: true,
  async start(ctx: BackendContext) {
    const mount: FileSystemDirectoryHandle | null = ctx.mount;
    // Every backend, the default one included, has an id and a key.
    const named: [string, string] = [ctx.backendId, ctx.key];
    void named;
    void mount, ctx.env.MODE;
    ctx.ready();
  },
  session(session: BackendSession) {
    const user: string | undefined = session.user;
    void user;
  },
};
