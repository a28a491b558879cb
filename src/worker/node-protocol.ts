/** The routes of the node protocol, served by the node entrypoint to other Workers only. */
export const NODE_PATHS = {
  services: "/x3m/node/services",
  dispatch: "/x3m/node/dispatch",
  authorization: "/x3m/node/authorization",
} as const;

/** The origin of node protocol requests (a service binding ignores it; only the path matters). */
export const NODE_ORIGIN = "https://node.x3m";

/** The longest timeout a caller may ask a node to wait for a service. */
export const MAX_NODE_TIMEOUT_MS = 60_000;
