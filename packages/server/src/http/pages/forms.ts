// The fields of a submitted form (urlencoded, parsed by @fastify/formbody), read leniently.
import type { FastifyRequest } from 'fastify';

export type Form = Record<string, string | undefined>;

export function form(request: FastifyRequest): Form {
  const body = request.body;
  return typeof body === 'object' && body !== null ? (body as Form) : {};
}
