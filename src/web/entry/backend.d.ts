// The backend worker's entry, `tabworker/backend` (see backend.js beside it).
export * from './backend_bindgen.js';
export { default } from './backend_bindgen.js';
