// The OS version sent at login: /etc/os-release on Linux, systeminformation elsewhere.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

const SI_TIMEOUT_MS = 3000;

/** Linux: the distribution's own description, from a file, without spawning anything. */
function linuxVersion(): string {
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const field = (name: string) =>
      new RegExp(`^${name}=(?:"([^"]*)"|'([^']*)'|(.*))$`, 'm')
        .exec(text)
        ?.slice(1)
        .find((v) => v !== undefined)
        ?.trim();
    const pretty = field('PRETTY_NAME') ?? [field('NAME'), field('VERSION_ID')].filter(Boolean).join(' ');
    if (pretty) return pretty;
  }
  return `Linux ${release()}`;
}

/**
 * macOS and Windows need commands (sw_vers, PowerShell) to name their version; that is what
 * systeminformation is good at. It spawns several processes (~50 ms), so only login calls it,
 * and a slow answer falls back to the kernel release.
 */
async function systeminformationVersion(): Promise<string> {
  try {
    const { default: si } = await import('systeminformation');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, SI_TIMEOUT_MS, undefined);
    });
    const info = await Promise.race([si.osInfo(), timeout]);
    clearTimeout(timer);
    const text = info ? [info.distro, info.release].filter(Boolean).join(' ').trim() : '';
    return text || release();
  } catch {
    return release();
  }
}

export function osVersion(platform: NodeJS.Platform): Promise<string> {
  if (platform === 'linux') return Promise.resolve(linuxVersion());
  return systeminformationVersion();
}
