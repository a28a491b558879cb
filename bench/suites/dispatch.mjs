// Dispatch benchmark: latency of a trivial service through the HTTP gateway, served locally
// (baseline) or by another node one service-binding hop away, measured in the same run.
import { bundle, miniflare, percentile } from "../lib.mjs";

const ROUNDS = 2000;
const WARMUP = 200;

export async function run() {
  const gateway = bundle("workers/dispatch-gateway.toml");
  const node = bundle("workers/dispatch-node.toml");
  const mf = miniflare(null, {}, {
    workers: [
      { name: "gateway", modules: true, scriptPath: gateway, compatibilityDate: "2026-06-01", serviceBindings: { NODE: { name: "node", entrypoint: "X3mNode" } } },
      { name: "node", modules: true, scriptPath: node, compatibilityDate: "2026-06-01" },
    ],
  });
  await mf.ready;
  const call = async (service) => {
    const start = performance.now();
    const answer = await mf.dispatchFetch(`http://bench/v1/services/${service}`, { method: "POST", body: "{}" });
    await answer.arrayBuffer();
    if (answer.status !== 200) throw new Error(`${service}: ${answer.status}`);
    return performance.now() - start;
  };
  try {
    for (let i = 0; i < WARMUP; i += 1) {
      await call("noop_local");
      await call("noop_remote");
    }
    const local = [];
    const remote = [];
    // Interleaved, so that both see the same machine state.
    for (let i = 0; i < ROUNDS; i += 1) {
      local.push(await call("noop_local"));
      remote.push(await call("noop_remote"));
    }
    const p = (values, q) => percentile(values, q);
    const fmt = (ms) => `${ms.toFixed(2)} ms`;
    console.log(`local p50 ${fmt(p(local, 50))} p99 ${fmt(p(local, 99))}; remote p50 ${fmt(p(remote, 50))} p99 ${fmt(p(remote, 99))}`);
    return {
      raw: { local, remote },
      rows: [
        { measure: `dispatch p50 over HTTP, remote node (one hop), ${ROUNDS} calls`, value: fmt(p(remote, 50)), baseline: fmt(p(local, 50)), baselineName: "same service on the gateway itself", ratio: (p(remote, 50) / p(local, 50)).toFixed(2) },
        { measure: `dispatch p99 over HTTP, remote node (one hop), ${ROUNDS} calls`, value: fmt(p(remote, 99)), baseline: fmt(p(local, 99)), baselineName: "same service on the gateway itself", ratio: (p(remote, 99) / p(local, 99)).toFixed(2) },
      ],
    };
  } finally {
    await mf.dispose();
  }
}
