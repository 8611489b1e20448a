/**
 * `deno task demo`: the whole operator working on one machine, with nothing but Deno (and Node
 * for the local S3). See `--help` and the README's opening.
 *
 * Exit codes: 0 when every image became Available everywhere and the deleted Release's image
 * was collected; 1 with the reason otherwise (a service that did not start, the deadline);
 * 2 for bad flags; 130 when interrupted before the end.
 */
import { type Display, plainDisplay, terminalDisplay } from "./display.ts";
import { parseDemoOptions, USAGE } from "./options.ts";
import { runDemo } from "./run.ts";
import { formatSummary } from "./summary.ts";

async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseDemoOptions(args);
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const dir = options.dir ?? new URL("../.tmp/demo", import.meta.url).pathname;
  const display: Display = Deno.stdout.isTerminal() ? terminalDisplay() : plainDisplay();
  const interrupt = new AbortController();
  const onSignal = (signal: Deno.Signal) => () =>
    interrupt.abort(new Error(`interrupted (${signal})`));
  const listeners = (["SIGINT", "SIGTERM"] as const).map((s) => [s, onSignal(s)] as const);
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  try {
    const result = await runDemo({
      options: { ...options, dir },
      display,
      interrupt: interrupt.signal,
    });
    display.say("");
    for (const line of formatSummary(result.summary)) display.say(line);
    if (result.stop) {
      const { nodeImage, release } = result.example;
      display.say(`
Everything keeps running (logs and values.yaml in ${dir}). Try:

  export KUBECONFIG=${result.kubeconfig}
  kubectl get nodeimages -n giantswarm -w
  kubectl describe nodeimage -n giantswarm ${nodeImage}
  kubectl annotate nodeimage -n giantswarm ${nodeImage} image.giantswarm.io/refresh=now
  kubectl get releases
  kubectl delete release ${release}       # its image goes after --retention

Press Ctrl-C to stop everything.`);
      await new Promise((resolve) => interrupt.signal.addEventListener("abort", resolve));
      display.say("Stopping…");
      await result.stop();
      display.say("Stopped.");
    }
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    console.error(`\ndemo failed: ${message}\n(logs of every service: ${dir})`);
    return interrupt.signal.aborted ? 130 : 1;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
