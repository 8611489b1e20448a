/**
 * `deno task bench`: prints figures, never pass/fail. Each figure that can be compared is shown
 * with a baseline measured in the same run.
 *
 * Usage: deno task bench [watch] [release] [image] [proxmox] [http] [vsphere] [vcd] [memory]
 *   (all when none given)
 */
import { benchHttpUpload } from "./http_upload.ts";
import { benchImageTransfers } from "./image_transfers.ts";
import { benchMemory } from "./memory.ts";
import { benchProxmoxSteps } from "./proxmox_steps.ts";
import { benchReleaseColdStart } from "./release_cold_start.ts";
import { benchVcdUpload } from "./vcd_upload.ts";
import { benchWatchPipeline } from "./watch_pipeline.ts";
import { benchVsphereImport } from "./vsphere_import.ts";

const benches: Record<string, () => Promise<void>> = {
  watch: () => benchWatchPipeline(Number(Deno.env.get("BENCH_OBJECTS") ?? 10_000)),
  release: () => benchReleaseColdStart(),
  image: () => benchImageTransfers(),
  proxmox: () => benchProxmoxSteps(),
  http: () => benchHttpUpload(),
  vsphere: () => benchVsphereImport(),
  vcd: () => benchVcdUpload(),
  memory: () => benchMemory(),
};

const selected = Deno.args.length ? Deno.args : Object.keys(benches);
for (const name of selected) {
  const bench = benches[name];
  if (!bench) {
    console.error(`Unknown bench "${name}"; choose from: ${Object.keys(benches).join(", ")}`);
    Deno.exit(2);
  }
  await bench();
  console.log();
}
