// What workerd itself prints about errors that tests provoke on purpose, kept out of a green run.
//
// The vitest plugin writes workerd's own reports to this (Node) process's stdout and stderr, one
// report per write, and offers no hook to route them to the test that caused them. The Workflows emulator
// reports every error that crosses one of its boundaries as an "uncaught exception", even when
// the caller handles it; workerd warns whenever a script sets a non-ASCII header value. The tests
// below provoke exactly these and assert what the library does about them, so their reports are
// noise; every other line of workerd's output is printed as it comes. Each pattern names the test
// that provokes it. `X3M_TEST_RUNTIME_OUTPUT=all npm test` prints everything.
const EXPECTED: readonly { pattern: RegExp; provokedBy: string }[] = [
  // A process step whose command timed out throws so that Workflows retries it (lost replies).
  { pattern: /^uncaught exception; source = Uncaught \(in promise\); stack = TransientFailure: step \w+: service_timeout \(will be retried\)/, provokedBy: "test/readside/bank-read-side.test.ts" },
  // The deposit step made to fail while a transfer's process is stalled on purpose.
  { pattern: /^uncaught exception; source = Uncaught \(in promise\); stack = Error: the destination's data centre is gone/, provokedBy: "test/readside/bank-read-side.test.ts" },
  // revive() asking for an instance that does not exist (the Workflows API answers by throwing).
  { pattern: /^uncaught exception; source = Uncaught \(in promise\); stack = Error: (Engine was never started|instance\.not_found)\n/, provokedBy: "test/readside/bank-read-side.test.ts" },
  // revive() restarting a stalled instance: the emulator aborts the old run.
  { pattern: /^uncaught exception; exception = \S+ failed: broken\.outputGateBroken; jsg\.Error: Aborting engine: User called restart/, provokedBy: "test/readside/bank-read-side.test.ts" },
  // Objects stopped on purpose (a crash or a deploy) while work of theirs was under way.
  { pattern: /^exception = workerd\/api\/unsafe\.c\+\+:\d+: failed: jsg\.Error: Application called abortAllDurableObjects\(\)\./, provokedBy: "test/scheduler/scheduler-restart.test.ts, test/aggregates/follow-ups.test.ts" },
  // Header values with non-ASCII characters, sent to be refused with 400 invalid_header.
  { pattern: /^A header value for "[\w-]+" contains non-ASCII characters: "(id-|Bearer dev-ada)/, provokedBy: "test/http/hardening.test.ts" },
];

/** Wraps `stream.write` so that it drops the expected reports; answers how to undo it. */
function dropExpected(stream: NodeJS.WriteStream): () => void {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    if (EXPECTED.some(({ pattern }) => pattern.test(text))) {
      const done = rest.find((argument) => typeof argument === "function") as (() => void) | undefined;
      done?.();
      return true;
    }
    return write(chunk as string, ...(rest as []));
  }) as typeof stream.write;
  return () => {
    stream.write = write;
  };
}

/** vitest's global setup (in the main process, around every test file of the workerd project). */
export default function keepExpectedRuntimeOutputOut(): () => void {
  if (process.env["X3M_TEST_RUNTIME_OUTPUT"] === "all") return () => {};
  // workerd's warnings arrive on stdout, its exception reports on stderr.
  const undo = [dropExpected(process.stdout), dropExpected(process.stderr)];
  return () => undo.forEach((restore) => restore());
}
