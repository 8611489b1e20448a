/**
 * The operator's values.yaml, in the Go operator's Helm values shape (`s3`,
 * `imageRetentionPeriod`, one section per platform), written for the simulators that run.
 */
import { stringify } from "yaml";

export function valuesYaml(
  s3: Record<string, unknown>,
  platforms: Record<string, Record<string, unknown>>,
  retention: string,
): string {
  const header = "# Written by `deno task demo` for its local S3 and platform simulators.\n";
  return header + stringify({ s3, imageRetentionPeriod: retention, ...platforms });
}
