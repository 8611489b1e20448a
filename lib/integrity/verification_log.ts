/**
 * What the verifiers of one stream proved, in the words the location status shows:
 * "size 123456 ok", "sha256 ok (sidecar)", "manifest sha256 of 2 files ok", "no manifest".
 *
 * A verifier adds its statement only after it has seen every byte it needs, so a log read after
 * the stream closed lists exactly what was checked; a log read earlier may be incomplete.
 */
export class VerificationLog {
  readonly #statements: string[] = [];

  /** Records one fact, e.g. `"qcow2 magic ok"`. */
  add(statement: string): void {
    this.#statements.push(statement);
  }

  /** The statements in the order they were made. */
  list(): string[] {
    return [...this.#statements];
  }

  /** One line for a status message: the statements joined by ", " ("" when empty). */
  toString(): string {
    return this.#statements.join(", ");
  }
}

/** Options every verifier takes. */
export interface VerifierOptions {
  /** Names the bytes in messages, e.g. `s3://bucket/capv/x/y.ova`. */
  subject: string;
  /** Receives the verifier's statement once it has verified; optional for callers who only want errors. */
  log?: VerificationLog;
}
