/**
 * One throwaway CA and server certificate (for 127.0.0.1) shared by the platform simulators, so
 * the operator verifies TLS as it would in production (`credentials.caCert`), never `insecure`.
 * The files are kept in the demo's directory with everything else it made.
 */
import { localCertificates } from "../tls/certificates.ts";

export interface DemoPki {
  caCert: string;
  caPath: string;
  certPath: string;
  keyPath: string;
}

export async function demoPki(dir: string): Promise<DemoPki> {
  const { ca, server } = await localCertificates();
  await Deno.mkdir(`${dir}/tls`, { recursive: true });
  const paths = {
    caPath: `${dir}/tls/ca.crt`,
    certPath: `${dir}/tls/server.crt`,
    keyPath: `${dir}/tls/server.key`,
  };
  await Deno.writeTextFile(paths.caPath, ca.cert);
  await Deno.writeTextFile(paths.certPath, server.cert);
  await Deno.writeTextFile(paths.keyPath, server.key, { mode: 0o600 });
  return { caCert: ca.cert, ...paths };
}
