// sekuire-verify: accept Sekuire keys, device proof included, in any Node.js service.
export { sekuireVerify } from './fastify.js';
export { type Next, requirePermission, verifyMiddleware } from './node.js';
export type { Outcome, ReceivedRequest, Refusal, SekuireIdentity, VerifyOptions } from './types.js';
export { contentDigest, createVerifier, type Verifier } from './verifier.js';
