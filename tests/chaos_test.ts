/**
 * The fault catalogue's cases that fit in a few seconds, with their small parameters: the same
 * case functions `deno task chaos` runs (chaos/), each asserting the shared end state. Needs
 * s3rver (Node) and openssl like the other end-to-end tests; ignored with the reason otherwise.
 */
import { CASES } from "../chaos/cases.ts";
import { s3rverUnavailable } from "./support/s3rver.ts";
import { opensslAvailable, opensslMissing } from "./support/tls.ts";

const unavailable = !opensslAvailable() ? opensslMissing : await s3rverUnavailable();
if (unavailable) console.error(`fault catalogue tests ignored: ${unavailable}`);

for (const chaosCase of CASES) {
  if (!chaosCase.quick) continue;
  Deno.test({
    name: `fault catalogue: ${chaosCase.name}: ${chaosCase.summary}`,
    ignore: unavailable !== undefined,
    fn: async () => {
      // The case throws with the checker's problems when the end state is not reached.
      await chaosCase.run(chaosCase.quick);
    },
  });
}
