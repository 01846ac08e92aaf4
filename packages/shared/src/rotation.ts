// A change of device key (PROTOCOL.md, "Changing the device key"): what the new key signs to show it is held.

/** The bytes the new key signs (ECDSA P-256, SHA-256, r||s): both thumbprints, so the signature fits one change only. */
export function rotationStatement(oldThumbprint: string, newThumbprint: string): string {
  return `sekuire-device-key-rotation\n${oldThumbprint}\n${newThumbprint}\n`;
}
