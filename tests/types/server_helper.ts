// tabworker/server's types: the Plane helper takes the seed's ConnectRequest
// and answers the seed's ConnectResponse; its errors carry a typed code. Each
// `@ts-expect-error` line must fail to type-check.
import type { ConnectRequest, ConnectResponse } from '../../pkg/tabworker.js';
import { Plane, PlaneError } from '../../pkg/server.js';
import type { PlaneErrorCode, PlaneOptions } from '../../pkg/server.js';

const options: PlaneOptions = { controller: 'http://127.0.0.1:8080', image: 'counter-backend', timeoutMs: 5000, cluster: 'localhost:9090', pool: '' };
const plane = new Plane({ ...options, fetch });
// @ts-expect-error the image is required
export const noImage = new Plane({ controller: 'http://127.0.0.1:8080' });
// @ts-expect-error timeoutMs is a number
export const badTimeout = new Plane({ ...options, timeoutMs: '10s' });

export async function spawnDoc(request: ConnectRequest): Promise<ConnectResponse> {
  const response: ConnectResponse = await plane.connect(request);
  const readyUrl: string = response.ready_url;
  await plane.terminate(response.backend_id);
  await plane.terminate(response.backend_id, { hard: true });
  // @ts-expect-error hard is a boolean
  await plane.terminate(response.backend_id, { hard: 'yes' });
  // @ts-expect-error spawn is a boolean or an object, as the seed says
  await plane.connect({ key: 'doc', spawn: 'yes' });
  // @ts-expect-error Plane's own fields are not the seed's: no drone on a ConnectResponse
  void response.drone;
  void readyUrl;
  return response;
}

export function explain(error: unknown): string {
  if (!(error instanceof PlaneError)) return 'unexpected';
  const code: PlaneErrorCode = error.code;
  const status: number | undefined = error.status;
  const kind: string | undefined = error.kind;
  // The controller's URL, for the server's logs: never in the message.
  const url: string | undefined = error.url;
  // @ts-expect-error url may be undefined (an invalid-argument is refused before any request)
  const sureUrl: string = error.url;
  // @ts-expect-error codes are kebab-case, not Plane's kind names
  const wrong: PlaneErrorCode = 'KeyHeld';
  void status, kind, url, sureUrl, wrong;
  switch (code) {
    case 'key-held':
    case 'key-unheld-no-spawn':
    case 'no-drone-available':
    case 'not-found':
    case 'invalid-argument':
    case 'timeout':
    case 'unreachable':
    case 'malformed':
    case 'failed':
      return code;
    default:
      return `other: ${code}`;
  }
}
