/** The upload gateway: the HTTP edge over the intake room (see gateway.ts for the routes). */
export { createGateway, type Gateway, type GatewayOptions } from "./gateway.js";
export { HttpError } from "./errors.js";
