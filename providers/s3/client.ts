/**
 * Builds the AWS SDK client with the settings that work under Deno (runtime-notes.md,
 * "@aws-sdk/client-s3 under Deno"): the fetch handler (GetObject bodies are web streams),
 * checksums only when required (the defaults corrupt or fail uploads), and path-style for custom
 * endpoints. Anonymous access replaces the SigV4 scheme with Smithy's no-auth scheme, so no
 * credential lookup happens and no request carries an `Authorization` header.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Addressing } from "./addressing.ts";
import { readS3CredentialsFile, type S3StaticKeys } from "./credentials_file.ts";
import type { S3Credentials, S3SourceOptions } from "./options.ts";

/** SDK identity (structural, to avoid importing @smithy/types). */
interface AwsIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** The SDK re-resolves an identity once it is within 5 minutes of `expiration`. */
const SDK_REFRESH_WINDOW_MS = 300_000;
const DEFAULT_FILE_REFRESH_MS = 60_000;

/** Secret values seen so far, to scrub from any message as a second line of defence. */
export class SecretScrubber {
  readonly #secrets = new Set<string>();

  remember(keys: S3StaticKeys): void {
    this.#secrets.add(keys.secretAccessKey.reveal());
    if (keys.sessionToken) this.#secrets.add(keys.sessionToken.reveal());
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) if (secret) out = out.split(secret).join("[redacted]");
    return out;
  }
}

function identityOf(keys: S3StaticKeys, expiration?: Date): AwsIdentity {
  return {
    accessKeyId: keys.accessKeyId,
    secretAccessKey: keys.secretAccessKey.reveal(),
    sessionToken: keys.sessionToken?.reveal(),
    expiration,
  };
}

function credentialsConfig(
  credentials: S3Credentials,
  scrubber: SecretScrubber,
): Record<string, unknown> {
  switch (credentials.source) {
    case "anonymous":
      return {
        httpAuthSchemes: [{
          schemeId: "smithy.api#noAuth",
          identityProvider: () => () => Promise.resolve({}),
          signer: { sign: (request: unknown) => Promise.resolve(request) },
        }],
        httpAuthSchemeProvider: () => [{ schemeId: "smithy.api#noAuth" }],
      };
    case "static":
      scrubber.remember(credentials);
      return { credentials: identityOf(credentials) };
    case "file": {
      const refreshMs = credentials.refreshMs ?? DEFAULT_FILE_REFRESH_MS;
      // An expiration makes the SDK call us again once it is near, i.e. every `refreshMs`:
      // that is how a rotated Secret is picked up without rebuilding the client.
      return {
        credentials: async (): Promise<AwsIdentity> => {
          const keys = await readS3CredentialsFile(credentials.path, credentials.profile);
          scrubber.remember(keys);
          return identityOf(keys, new Date(Date.now() + SDK_REFRESH_WINDOW_MS + refreshMs));
        },
      };
    }
    case "default-chain":
      return {};
  }
}

/** Creates the SDK client for validated options and their resolved addressing. */
export async function createS3Client(
  options: S3SourceOptions,
  addressing: S3Addressing,
  scrubber: SecretScrubber,
): Promise<S3Client> {
  // Imported here, not at the top: most of the time no transfer is due and the SDK (~26 MiB
  // resident) need not be loaded at all.
  const [{ S3Client }, { FetchHttpHandler }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("@smithy/fetch-http-handler"),
  ]);
  return new S3Client({
    region: addressing.region,
    ...(addressing.explicitEndpoint ? { endpoint: addressing.endpoint } : {}),
    forcePathStyle: addressing.pathStyle,
    // Timeouts are ours (see `_deadline.ts`): the handler's own timeout would leave the fetch
    // running after giving up on it.
    requestHandler: new FetchHttpHandler(),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: options.maxAttempts ?? 3,
    ...credentialsConfig(options.credentials ?? { source: "anonymous" }, scrubber),
  });
}
