/**
 * The platform HTTP client shared by every provider (Proxmox now; VMware Cloud Director and
 * vSphere next). `createHttpClient(options)` builds the real one; platform clients take an
 * `HttpClient` so tests can hand them a fake.
 */
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUTS,
  type HttpBody,
  type HttpClient,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type HttpTimeouts,
  type HttpTlsOptions,
} from "./types.ts";
export { createHttpClient, type HttpClientOptions, UndiciHttpClient } from "./client.ts";
export { type HttpFailureKind, HttpTransportError } from "./errors.ts";
export { normaliseFingerprint } from "./tls.ts";
