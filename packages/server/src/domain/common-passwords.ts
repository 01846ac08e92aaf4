// Passwords people pick first (NIST SP 800-63B §3.1.1.2: refuse values from lists of common or
// expected passwords, and context-specific words). Only those of 10 characters or more are here:
// shorter ones are refused for their length already. Compared whatever their case.
const COMMON = new Set([
  '0123456789',
  '0987654321',
  '1234567890',
  '12345678910',
  '123456789a',
  '123456789q',
  '1q2w3e4r5t',
  '1q2w3e4r5t6y',
  'abcdefghij',
  'administrator',
  'changeme123',
  'iloveyou123',
  'letmein123',
  'password01',
  'password12',
  'password123',
  'password1234',
  'passw0rd123',
  'p@ssw0rd123',
  'q1w2e3r4t5',
  'qwerty1234',
  'qwerty12345',
  'qwerty123456',
  'qwertyuiop',
  'qwertyuiop123',
  'sekuire123',
  'sekuire1234',
  'sekuirepassword',
  'welcome123',
  'zaq12wsxcde3',
]);

/** True for a listed password, or one character repeated. */
export function isCommonPassword(password: string): boolean {
  if (/^(.)\1*$/su.test(password)) return true;
  return COMMON.has(password.toLowerCase());
}
