/**
 * A fake Proxmox VE API for tests and the bench: `FakeProxmox.start(options)`.
 * See `server.ts` for what it reproduces and `api_params.ts` for the schema subset it checks.
 */
export {
  DEFAULT_TOKEN,
  FakeProxmox,
  type FakeProxmoxOptions,
  type FakeToken,
  type SeenProxmoxRequest,
} from "./server.ts";
export { FakeCluster, type FakeVm, type SharedStorageSpec } from "./state.ts";
export type { FakeTask, TaskType } from "./tasks.ts";
