/** The fault catalogue, in the order `deno task chaos` runs it (cheap cases first). */
import type { ChaosCase } from "./_case.ts";
import { gone410Storms } from "./gone_410_storms.ts";
import { conflictEveryOtherWrite } from "./conflict_every_other_write.ts";
import { throttleAndErrorBursts } from "./throttle_and_error_bursts.ts";
import { watchDropsUnderChurn } from "./watch_drops_under_churn.ts";
import { apiServerDown } from "./api_server_down.ts";
import { apiServerReset } from "./api_server_reset.ts";
import { corruptImage } from "./corrupt_image.ts";
import { malformedReleases } from "./malformed_releases.ts";
import { malformedConfigurations } from "./malformed_configurations.ts";
import {
  sigkillMidTransferProxmox,
  sigkillMidTransferVcd,
  sigkillMidTransferVsphere,
  sigtermMidTransferProxmox,
  sigtermMidTransferVsphere,
} from "./killed_mid_transfer.ts";
import { leaderFailover } from "./leader_failover.ts";
import { platformUnreachable } from "./platform_unreachable.ts";
import { sessionExpiryVcd, sessionExpiryVsphere } from "./session_expiry.ts";

// deno-lint-ignore no-explicit-any
export const CASES: ChaosCase<any>[] = [
  gone410Storms,
  conflictEveryOtherWrite,
  throttleAndErrorBursts,
  watchDropsUnderChurn,
  apiServerDown,
  apiServerReset,
  corruptImage,
  malformedReleases,
  malformedConfigurations,
  sigkillMidTransferProxmox,
  sigkillMidTransferVcd,
  sigkillMidTransferVsphere,
  sigtermMidTransferProxmox,
  sigtermMidTransferVsphere,
  platformUnreachable,
  leaderFailover,
  sessionExpiryVcd,
  sessionExpiryVsphere,
];
