// A deploy API that accepts Sekuire keys: only a key bound to its device, with a fresh proof,
// reaches a route; POST /deploy also needs the key's deploy:write permission.
import fastify from 'fastify';
import { requirePermission, sekuireVerify } from 'sekuire-verify';

const server = process.env.SEKUIRE_URL ?? 'http://127.0.0.1:5556';
const key = process.env.SEKUIRE_VERIFY_KEY;
if (key === undefined || key === '') {
  process.stderr.write('Set SEKUIRE_VERIFY_KEY to a server key with the verify permission.\n');
  process.exit(2);
}

const app = fastify();
app.get('/health', async () => ({ ok: true }));

await app.register(sekuireVerify, {
  server,
  key,
  ...(process.env.PUBLIC_ORIGIN !== undefined && { origin: process.env.PUBLIC_ORIGIN }),
});

const deploys = [];

app.get('/deploys', async () => ({ deploys }));

app.post('/deploy', { preHandler: requirePermission('deploy:write') }, async (request, reply) => {
  const ref = typeof request.body?.ref === 'string' ? request.body.ref : 'main';
  const deploy = {
    id: deploys.length + 1,
    ref,
    by: request.sekuire.user.email,
    device: request.sekuire.device?.name ?? null,
  };
  deploys.push(deploy);
  return reply.code(201).send(deploy);
});

const address = await app.listen({
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
});
process.stdout.write(`Listening on ${address}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
