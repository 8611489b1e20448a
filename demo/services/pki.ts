/**
 * One throwaway CA and server certificate (for 127.0.0.1) shared by the platform simulators, so
 * the operator verifies TLS as it would in production (`credentials.caCert`), never `insecure`.
 * The files are kept in the demo's directory with everything else it made.
 */
import { testPki } from "../../tests/support/tls.ts";

export interface DemoPki {
  caCert: string;
  caPath: string;
  certPath: string;
  keyPath: string;
}

export async function demoPki(dir: string): Promise<DemoPki> {
  const pki = await testPki();
  try {
    await Deno.mkdir(`${dir}/tls`, { recursive: true });
    const keep = async (name: string) => {
      await Deno.copyFile(`${pki.dir}/${name}`, `${dir}/tls/${name}`);
      return `${dir}/tls/${name}`;
    };
    return {
      caCert: pki.caCert,
      caPath: await keep(pki.caCertPath.slice(pki.dir.length + 1)),
      certPath: await keep("server.crt"),
      keyPath: await keep("server.key"),
    };
  } finally {
    await pki.remove();
  }
}
