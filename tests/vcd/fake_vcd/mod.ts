/**
 * A fake VMware Cloud Director for tests, the bench and the demo: `FakeVcd.start(options)`, or
 * `main.ts` as a process. See `server.ts` for what it reproduces and `world.ts` for uploads.
 */
export { DEFAULT_TIMINGS, FakeVcd, type FakeVcdOptions, type SeenVcdRequest } from "./server.ts";
export {
  DEFAULT_ORGS,
  FAILED,
  type FakeFile,
  type FakeTemplate,
  FakeVcdState,
  type OrgSpec,
  RESOLVED,
  UNRESOLVED,
} from "./state.ts";
export { inspectDescriptor } from "./ovf.ts";
