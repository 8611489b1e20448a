/**
 * The certificates and keys a local kube-apiserver needs, made fresh per start with openssl
 * (as envtest generates them): a CA, a serving certificate for 127.0.0.1/localhost, an admin
 * client certificate in `system:masters` (RBAC's built-in superuser group) and the
 * service-account signing key pair that TokenRequest signs with. EC P-256 keys throughout: they
 * are made in milliseconds where RSA keys take a noticeable share of a test file's start-up.
 */
import { makeCa, openssl, signLeaf } from "../support/tls.ts";

export interface ApiServerPki {
  caCert: string;
  caCertPath: string;
  servingCertPath: string;
  servingKeyPath: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKeyPath: string;
  serviceAccountPublicKeyPath: string;
}

async function ecKey(dir: string, file: string): Promise<void> {
  await openssl(
    dir,
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    file,
  );
}

/** Writes every file into `dir` (which must exist) and returns their paths and PEMs. */
export async function makeApiServerPki(dir: string): Promise<ApiServerPki> {
  await makeCa(dir, "ca", "real-apiserver-test-ca");
  await ecKey(dir, "serving.key");
  await signLeaf(dir, "ca", "serving", "/CN=kube-apiserver", [
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
    "extendedKeyUsage=serverAuth",
  ]);
  await ecKey(dir, "admin.key");
  await signLeaf(dir, "ca", "admin", "/O=system:masters/CN=test-admin", [
    "extendedKeyUsage=clientAuth",
  ]);
  await ecKey(dir, "service-account.key");
  await openssl(
    dir,
    "pkey",
    "-in",
    "service-account.key",
    "-pubout",
    "-out",
    "service-account.pub",
  );
  const read = (file: string) => Deno.readTextFile(`${dir}/${file}`);
  return {
    caCert: await read("ca.crt"),
    caCertPath: `${dir}/ca.crt`,
    servingCertPath: `${dir}/serving.crt`,
    servingKeyPath: `${dir}/serving.key`,
    adminCert: await read("admin.crt"),
    adminKey: await read("admin.key"),
    serviceAccountKeyPath: `${dir}/service-account.key`,
    serviceAccountPublicKeyPath: `${dir}/service-account.pub`,
  };
}
