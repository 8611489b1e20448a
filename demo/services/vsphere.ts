/**
 * vcsim (govmomi v0.56.0, built by `tools/vcsim.sh` and cached) with two datacenters, serving
 * the demo's certificate. Its SOAP calls are counted from its trace (`Request:` lines); the
 * Automation REST calls for tags are not in it.
 */
import { vcsimBinaries } from "../../tests/support/vcsim.ts";
import type { DemoPki } from "./pki.ts";
import type { PlatformService } from "./platform.ts";
import { ServiceProcess } from "../processes.ts";

const USER = { username: "image-operator", password: "demo-vc-p@ss" };
const FOLDERS = ["/DC0/vm", "/DC1/vm"];

/** Undefined when vcsim can be set up here, else why not (one line). */
export async function vsphereUnavailable(): Promise<string | undefined> {
  try {
    await vcsimBinaries();
    return undefined;
  } catch (error) {
    return (error as Error).message.split("\n")[0];
  }
}

export async function startVsphere(
  dir: string,
  pki: DemoPki,
  signal: AbortSignal,
): Promise<PlatformService> {
  const bin = await vcsimBinaries();
  const tmp = `${dir}/vcsim`;
  await Deno.mkdir(tmp, { recursive: true });
  const process = ServiceProcess.spawn("vcsim", `${bin}/vcsim`, [
    "-l",
    "127.0.0.1:0",
    "-username",
    USER.username,
    "-password",
    USER.password,
    "-dc",
    "2",
    "-host",
    "2",
    "-tlscert",
    pki.certPath,
    "-tlskey",
    pki.keyPath,
    "-trace",
  ], { logPath: `${dir}/vcsim.log`, env: { TMPDIR: tmp } });
  const [, printed] = await process.waitFor(/VCSIM_URL=(\S+) PID=/, signal);
  const host = new URL(printed).host;
  const govc = async (...args: string[]) => {
    const out = await new Deno.Command(`${bin}/govc`, {
      args,
      env: {
        GOVC_URL: `https://${host}/sdk`,
        GOVC_USERNAME: USER.username,
        GOVC_PASSWORD: USER.password,
        GOVC_TLS_CA_CERTS: pki.caPath,
        GOVMOMI_HOME: tmp,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`govc ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  };
  const location = (dc: string, network?: string) => ({
    datacenter: dc,
    datastore: "LocalDS_0",
    cluster: `${dc}_C0`,
    folder: `/${dc}/vm`,
    ...(network ? { network } : {}),
  });
  return {
    platform: "vsphere",
    providerId: "capv",
    section: {
      enabled: true,
      pullFromURL: false,
      credentials: { ...USER, vcenter: host, caCert: pki.caCert },
      locations: { "vc-a": location("DC0", "DC0_DVPG0"), "vc-b": location("DC1") },
    },
    locations: ["vc-a", "vc-b"],
    calls: () =>
      Promise.resolve({
        total: process.log().match(/^Request: /gm)?.length ?? 0,
        kind: "SOAP",
      }),
    catalog: async () => {
      const listed = await Promise.all(FOLDERS.map((folder) => govc("ls", folder)));
      return listed.join("\n").split("\n").filter(Boolean);
    },
    process,
  };
}
