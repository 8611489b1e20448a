/**
 * One throwaway CA and server certificate (for 127.0.0.1) shared by the platform simulators, so
 * the operator verifies TLS as it would in production (`credentials.caCert`), never `insecure`.
 */
import { testPki } from "../../tests/support/tls.ts";

export interface DemoPki {
  caCert: string;
  caPath: string;
  certPath: string;
  keyPath: string;
  remove(): Promise<void>;
}

export async function demoPki(): Promise<DemoPki> {
  const pki = await testPki();
  return {
    caCert: pki.caCert,
    caPath: pki.caCertPath,
    certPath: `${pki.dir}/server.crt`,
    keyPath: `${pki.dir}/server.key`,
    remove: () => pki.remove(),
  };
}
