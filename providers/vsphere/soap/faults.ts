/**
 * vSphere faults as error classes: a SOAP Fault (HTTP 500, `detail` naming the fault type), a
 * `LocalizedMethodFault` inside a lease's or task's `error`, and vcsim's `missingSet` answer to
 * an unauthenticated property retrieval all become a `VimFault`, or the subclass for the fault
 * types callers act on.
 *
 * Guarantees: `message` is the server's text (faultstring or localizedMessage), prefixed with
 * what was being done; `type` is the vSphere fault type name (`InvalidLogin`, `DuplicateName`…).
 */
import { PlatformError } from "../../types.ts";
import { child, textOf, type XmlNode } from "./xml.ts";

/** A vSphere API fault. */
export class VimFault extends PlatformError {
  override name = "VimFault";
  /** The fault type, e.g. `ManagedObjectNotFound`. */
  readonly type: string;
  /** The server's own text. */
  readonly serverMessage: string;

  constructor(type: string, serverMessage: string, context: string, options?: ErrorOptions) {
    super(`${context}: ${serverMessage || type} (${type})`, undefined, options);
    this.type = type;
    this.serverMessage = serverMessage;
  }
}

/** Wrong user name or password. */
export class InvalidLoginFault extends VimFault {
  override name = "InvalidLoginFault";
}
/** The session is gone (expired, logged out, terminated): log in again. */
export class NotAuthenticatedFault extends VimFault {
  override name = "NotAuthenticatedFault";
}
/** A reference names an object that no longer exists. */
export class ManagedObjectNotFoundFault extends VimFault {
  override name = "ManagedObjectNotFoundFault";
}
/** An object of that name already exists in the folder. */
export class DuplicateNameFault extends VimFault {
  override name = "DuplicateNameFault";
}
/** A file to be created already exists on the datastore. */
export class FileAlreadyExistsFault extends VimFault {
  override name = "FileAlreadyExistsFault";
}
/** The object is not in a state that allows the call (a lease already done, a VM powered on). */
export class InvalidStateFault extends VimFault {
  override name = "InvalidStateFault";
}

type FaultClass = new (
  type: string,
  serverMessage: string,
  context: string,
  options?: ErrorOptions,
) => VimFault;

const CLASSES: Record<string, FaultClass> = {
  InvalidLogin: InvalidLoginFault,
  NotAuthenticated: NotAuthenticatedFault,
  ManagedObjectNotFound: ManagedObjectNotFoundFault,
  DuplicateName: DuplicateNameFault,
  FileAlreadyExists: FileAlreadyExistsFault,
  InvalidState: InvalidStateFault,
  InvalidPowerState: InvalidStateFault,
  InvalidHostState: InvalidStateFault,
};

/** The error for fault `type` with the server's `message`. */
export function vimFault(type: string, message: string, context: string): VimFault {
  const Class = CLASSES[type] ?? VimFault;
  return new Class(type, message, context);
}

/**
 * The fault in a SOAP `Fault` element: the type from the `detail` child's `xsi:type` (or its
 * element name without the `Fault` suffix), the text from `faultstring`.
 */
export function faultFromSoap(fault: XmlNode, context: string): VimFault {
  const detail = child(fault, "detail")?.children[0];
  const type = detail?.xsiType ?? detail?.name.replace(/Fault$/, "") ?? "SystemError";
  return vimFault(type, (textOf(fault, "faultstring") ?? "").trim(), context);
}

/**
 * The fault in a `LocalizedMethodFault` (`<fault xsi:type="T">…</fault>` and
 * `<localizedMessage>`), as a lease's or task's `error` carries it.
 */
export function faultFromLocalized(node: XmlNode, context: string): VimFault {
  const fault = child(node, "fault");
  const type = fault?.xsiType ?? "SystemError";
  let message = (textOf(node, "localizedMessage") ?? "").trim();
  if (!message) {
    // Some faults carry their text only inside (e.g. SystemError.reason, a task's msg).
    message = (textOf(fault, "reason") ?? textOf(fault, "msg") ?? "").trim();
  }
  return vimFault(type, message, context);
}
