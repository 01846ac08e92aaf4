// The load baseline: bare node:http answering every request with a fixed JSON body of argv[2] bytes.
import { createServer } from 'node:http';

const length = Number(process.argv[2]);
const skeleton = '{"padding":""}';
if (!Number.isInteger(length) || length < skeleton.length) {
  process.stderr.write(`usage: bare-server.mjs BODY_BYTES (at least ${skeleton.length})\n`);
  process.exit(2);
}
const body = Buffer.from(`{"padding":"${'x'.repeat(length - skeleton.length)}"}`);
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) };

const server = createServer((request, response) => {
  request.resume();
  response.writeHead(200, headers);
  response.end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`Listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
