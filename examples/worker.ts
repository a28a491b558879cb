import { createGateway } from "../src/worker/index.js";
import { greeter } from "./greeter.js";

/** The demo Worker that `npm run dev` serves: the greeter behind the HTTP gateway. */
export default createGateway({ services: [greeter] });
