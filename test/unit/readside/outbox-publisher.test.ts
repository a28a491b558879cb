import { describe, expect, it } from "vitest";
import { MemoryStreamStore } from "../../../src/core/aggregates/memory-stream-store.js";
import type { AppendRequest } from "../../../src/core/aggregates/stream-store.js";
import type { EventEnvelope } from "../../../src/core/readside/event-envelope.js";
import { OutboxPublisher } from "../../../src/core/readside/outbox-publisher.js";

const metadata = { messageId: "m", correlationId: "m", causationId: "m", service: "add" };

/** Appends `count` events to `store` after `version`. */
const append = (store: MemoryStreamStore, version: number, count: number, amount: number) => {
  const request: AppendRequest = {
    streamName: "tally-a",
    expectedVersion: version,
    events: Array.from({ length: count }, () => ({ type: "Added", data: { amount }, metadata, schemaVersion: 1 })),
    newVersion: version + count,
    principal: "",
    messageId: `m-${version}-${amount}`,
    fingerprint: "fp",
    response: { status: "ok" },
  };
  return store.append(request);
};

describe("the outbox publisher", () => {
  it("reads the outbox once when one read holds everything to send; a commit whose publish joins a send on its way is sent by the same publication, and counted once", async () => {
    const store = new MemoryStreamStore({ outbox: true });
    let reads = 0;
    const outbox = {
      unpublished: (limit: number) => {
        reads += 1;
        return store.unpublished(limit);
      },
      markPublished: (version: number) => store.markPublished(version),
    };
    const sent: number[][] = [];
    let onSend: () => Promise<void> = async () => {};
    const publisher = new OutboxPublisher({
      outbox,
      stream: "tally",
      send: async (envelopes: readonly EventEnvelope[]) => {
        sent.push(envelopes.map((envelope) => (envelope.kind === "event" ? envelope.event.version : envelope.ref.version)));
        await onSend();
      },
    });
    await append(store, -1, 2, 1);
    expect(await publisher.publish()).toEqual({ sent: 2, drained: true });
    expect(reads).toBe(1);

    // While version 2 is on its way, version 3 is committed and its own publish joins this one.
    let joined: Promise<unknown> = Promise.resolve();
    onSend = async () => {
      onSend = async () => {};
      await append(store, 2, 1, 5);
      joined = publisher.publish();
    };
    await append(store, 1, 1, 3);
    reads = 0;
    expect(await publisher.publish()).toEqual({ sent: 2, drained: true });
    // Counted once: by the call that started the publication, not again by the one that joined it.
    expect(await joined).toEqual({ sent: 0, drained: true });
    expect(sent).toEqual([[0, 1], [2], [3]]);
    expect(reads).toBe(2);
    expect((await store.unpublished(10)).events).toEqual([]);
  });

  it("a stream deleted and created again while a send was on its way: the send moves nothing, and the new stream's events are sent", async () => {
    const store = new MemoryStreamStore({ outbox: true });
    await append(store, -1, 3, 1);
    const sent: { version: number; data: unknown }[][] = [];
    let release: () => void = () => {};
    let held = true;
    const publisher = new OutboxPublisher({
      outbox: store,
      stream: "tally",
      send: async (envelopes: readonly EventEnvelope[]) => {
        sent.push(envelopes.map((envelope) => (envelope.kind === "event" ? { version: envelope.event.version, data: envelope.event.data } : { version: envelope.ref.version, data: null })));
        if (held) {
          held = false;
          await new Promise<void>((resolve) => (release = resolve));
        }
      },
    });
    const publishing = publisher.publish();
    // While versions 0–2 of the first stream are on their way, it is hard-deleted and created again.
    await store.hardDelete(undefined);
    publisher.forget();
    await append(store, -1, 2, 7);
    release();
    expect(await publishing).toMatchObject({ drained: true });
    expect(sent).toEqual([
      [{ version: 0, data: { amount: 1 } }, { version: 1, data: { amount: 1 } }, { version: 2, data: { amount: 1 } }],
      [{ version: 0, data: { amount: 7 } }, { version: 1, data: { amount: 7 } }],
    ]);
    expect((await store.unpublished(10)).events).toEqual([]);
  });
});
