// Whether a host is an IP address, and of which family: net.isIP's answer without loading node:net.
// node:net brings the stream modules with it (~2 ms at start); `status --offline` needs neither.

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** 4 for a dotted-quad IPv4 address, 6 for an IPv6 address (without brackets), else 0. */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (IPV4.test(host)) return 4;
  // A zone (`fe80::1%eth0`) is part of the address for net.isIP, not for a URL.
  const address = host.replace(/%[0-9a-zA-Z.:-]+$/, '');
  if (!address.includes(':') || /[[\]/?#@%]/.test(address)) return 0;
  // The WHATWG URL parser accepts exactly the IPv6 text forms (RFC 4291 section 2.2).
  try {
    new URL(`http://[${address}]/`);
    return 6;
  } catch {
    return 0;
  }
}
