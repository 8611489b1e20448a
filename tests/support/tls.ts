/**
 * Throwaway PKI for tests: a CA, a server certificate for 127.0.0.1/localhost, and client
 * certificates with RSA (PKCS#8 and PKCS#1) or EC keys, made with the `openssl` CLI in a temp dir.
 *
 * `startHttpsServer` serves HTTPS with it and can demand verified client certificates.
 * Tests that need it call `testPki()` and skip (with `opensslMissing` as the reason) when the
 * CLI is absent, so a machine without openssl reports ignored tests rather than failures.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** PEM strings of one throwaway PKI. Keys are unencrypted. */
export interface TestPki {
  /** The directory holding every file below, removed by `remove()`. */
  dir: string;
  caCert: string;
  caCertPath: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate with an RSA key in PKCS#8 form (`BEGIN PRIVATE KEY`). */
  rsaClient: ClientCredential;
  /** Client certificate with an RSA key in PKCS#1 form (`BEGIN RSA PRIVATE KEY`). */
  rsaPkcs1Client: ClientCredential;
  /** Client certificate with a P-256 EC key in SEC1 form (`BEGIN EC PRIVATE KEY`). */
  ecClient: ClientCredential;
  /** A client certificate signed by a different CA, which the server must refuse. */
  strangerClient: ClientCredential;
  remove(): Promise<void>;
}

export interface ClientCredential {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
  /** The certificate's common name (the Kubernetes user name). */
  commonName: string;
}

/** True when the `openssl` CLI can be run. */
export function opensslAvailable(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** The skip reason to print when `opensslAvailable()` is false. */
export const opensslMissing = "the openssl CLI is not installed";

/** Creates a fresh CA, server certificate and client certificates in a new temp dir. */
export async function testPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "kube-pki-" });
  const path = (name: string) => `${dir}/${name}`;
  try {
    await makeCa(dir, "ca", "test-ca");
    await makeCa(dir, "stranger-ca", "stranger-ca");
    await openssl(
      dir,
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      "server.key",
    );
    await signLeaf(dir, "ca", "server", "/CN=127.0.0.1", [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "extendedKeyUsage=serverAuth",
    ]);

    await openssl(
      dir,
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      "rsa-client.key",
    );
    await signLeaf(dir, "ca", "rsa-client", "/O=system:masters/CN=rsa-user", [
      "extendedKeyUsage=clientAuth",
    ]);

    await openssl(dir, "genrsa", "-traditional", "-out", "rsa1-client.key", "2048");
    await signLeaf(dir, "ca", "rsa1-client", "/CN=rsa-pkcs1-user", ["extendedKeyUsage=clientAuth"]);

    await openssl(
      dir,
      "ecparam",
      "-name",
      "prime256v1",
      "-genkey",
      "-noout",
      "-out",
      "ec-client.key",
    );
    await signLeaf(dir, "ca", "ec-client", "/CN=ec-user", ["extendedKeyUsage=clientAuth"]);

    await openssl(
      dir,
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      "stranger.key",
    );
    await signLeaf(dir, "stranger-ca", "stranger", "/CN=stranger", ["extendedKeyUsage=clientAuth"]);

    const client = async (base: string, commonName: string): Promise<ClientCredential> => ({
      cert: await Deno.readTextFile(path(`${base}.crt`)),
      key: await Deno.readTextFile(path(`${base}.key`)),
      certPath: path(`${base}.crt`),
      keyPath: path(`${base}.key`),
      commonName,
    });
    return {
      dir,
      caCert: await Deno.readTextFile(path("ca.crt")),
      caCertPath: path("ca.crt"),
      serverCert: await Deno.readTextFile(path("server.crt")),
      serverKey: await Deno.readTextFile(path("server.key")),
      rsaClient: await client("rsa-client", "rsa-user"),
      rsaPkcs1Client: await client("rsa1-client", "rsa-pkcs1-user"),
      ecClient: await client("ec-client", "ec-user"),
      strangerClient: await client("stranger", "stranger"),
      remove: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

/** Makes a self-signed CA `<base>.crt`/`<base>.key` in `dir`. */
export async function makeCa(dir: string, base: string, commonName: string): Promise<void> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${base}.key`,
    "-out",
    `${base}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${commonName}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
}

/** Signs `<base>.key` into `<base>.crt` with the CA `<ca>.crt`/`<ca>.key`. */
export async function signLeaf(
  dir: string,
  ca: string,
  base: string,
  subject: string,
  extensions: string[],
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${base}.ext`, extensions.join("\n") + "\n");
  await openssl(dir, "req", "-new", "-key", `${base}.key`, "-subj", subject, "-out", `${base}.csr`);
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${base}.ext`,
    "-out",
    `${base}.crt`,
  );
}

/** Runs `openssl args…` in `dir`; throws with its stderr when it fails. */
export async function openssl(dir: string, ...args: string[]): Promise<void> {
  const result = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!result.success) {
    throw new Error(
      `openssl ${args[0]} failed in ${dir}: ${new TextDecoder().decode(result.stderr).trim()}`,
    );
  }
}

/** One request as the test HTTPS server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Common name of the verified client certificate, if one was presented. */
  clientCommonName?: string;
}

export interface TestHttpsServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export interface TestHttpsServerOptions {
  pki: TestPki;
  /** Ask for a client certificate and refuse the handshake without a valid one. */
  requireClientCert?: boolean;
  /** Answers a request; the default answers `{"kind":"Status","status":"Success"}`. */
  handler?: (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;
}

/**
 * An HTTPS server on 127.0.0.1 using the PKI's server certificate. Built on `node:https`
 * because `Deno.serve` cannot request client certificates; with `requireClientCert` the TLS
 * handshake itself fails for clients without a certificate signed by the PKI's CA.
 */
export async function startHttpsServer(options: TestHttpsServerOptions): Promise<TestHttpsServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = https.createServer({
    key: options.pki.serverKey,
    cert: options.pki.serverCert,
    ca: options.pki.caCert,
    requestCert: options.requireClientCert ?? false,
    rejectUnauthorized: options.requireClientCert ?? false,
  }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate?.();
    const seen: SeenRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      clientCommonName: socket.authorized && peer?.subject?.CN
        ? String(peer.subject.CN)
        : undefined,
    };
    requests.push(seen);
    if (options.handler) return options.handler(req, res, seen);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Success" }));
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // Handshake failures from refused clients are expected; keep them off the console.
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
