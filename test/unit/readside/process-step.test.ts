import { describe, expect, it } from "vitest";
import { halt, newMessage, response } from "../../../src/core/index.js";
import { sendStepCommand, TransientFailure } from "../../../src/core/readside/process.js";
import { recordingLogger } from "../../support/recorders.js";

describe("a process step's command", () => {
  it("logs a refusal for operators (what the process's own answers may not tell its caller), and nothing for a success", async () => {
    const { logger, lines } = recordingLogger();
    const message = newMessage("deposit", { id: "transfers_transfer-t1_0:deposit", rawRequest: { account_id: "gone" } });
    expect(await sendStepCommand(async (m) => halt(m, response.error("not_found")), "deposit", message, logger)).toEqual({ status: "error", reason: "not_found" });
    expect(await sendStepCommand(async (m) => halt(m, response.ok()), "deposit", message, logger)).toEqual({ status: "ok" });
    expect(lines).toEqual([
      { level: "info", message: "process step refused", fields: { messageId: "transfers_transfer-t1_0:deposit", service: "deposit", status: "error", reason: "not_found" } },
    ]);
  });

  it("throws a transient answer to be tried again, without logging it as a refusal", async () => {
    const { logger, lines } = recordingLogger();
    await expect(sendStepCommand(async (m) => halt(m, response.error("internal_error")), "deposit", newMessage("deposit"), logger)).rejects.toBeInstanceOf(TransientFailure);
    expect(lines).toEqual([]);
  });
});
