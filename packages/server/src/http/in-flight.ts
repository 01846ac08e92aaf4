// Counts the requests a Node server is answering, so a stop can wait until none is left.
import type http from 'node:http';

export interface InFlight {
  readonly count: number;
  /** Resolves once no request is in flight, or after `ms` (whichever comes first). */
  settled(ms: number): Promise<void>;
}

/** From the 'request' event (headers in) to the response's 'close' (sent, or the client left). */
export function trackInFlight(server: http.Server): InFlight {
  let count = 0;
  let waiters: (() => void)[] = [];
  server.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => {
    count++;
    response.once('close', () => {
      count--;
      if (count > 0) return;
      for (const wake of waiters) wake();
      waiters = [];
    });
  });
  return {
    get count() {
      return count;
    },
    settled(ms) {
      if (count === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
