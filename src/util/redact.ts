/**
 * Secret scrubbing for every line that leaves the process (logs, errors, notifications, JSON results).
 * Two layers: values registered as secrets when the config is loaded are masked wherever they appear, and
 * credential-shaped text (DSN passwords, tokens in URLs, PEM blocks) is masked by pattern.
 */
const MASK = '***';
const secrets = new Set<string>();

/** Registers a secret value so it is masked in every later message. Short values are ignored to avoid noise. */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string') return;
  const v = value.trim();
  if (v.length < 4) return;
  secrets.add(v);
  // URL-encoded forms appear in DSNs and query strings.
  const enc = encodeURIComponent(v);
  if (enc !== v) secrets.add(enc);
}

export function clearSecretsForTests(): void {
  secrets.clear();
}

const PATTERNS: Array<[RegExp, string]> = [
  // Go-driver DSN: user:pass@tcp(host)/db or @unix(...)
  [/([A-Za-z0-9_.$-]+):([^@\s/]*)@(tcp|unix|tcp6|udp)\(/g, `$1:${MASK}@$3(`],
  // URL userinfo: scheme://user:pass@host
  [/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@\s]*)@/gi, `$1:${MASK}@`],
  // key=value credentials in query strings, DSN params and command lines
  [
    /\b(password|passwd|pwd|secret|secret[-_]?access[-_]?key|access[-_]?token|refresh[-_]?token|session[-_]?token|client[-_]?secret|token|apikey|api[-_]?key|signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=([^&\s'"]+)/gi,
    `$1=${MASK}`,
  ],
  // Authorization headers
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`],
  // PEM private keys
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, `[private key ${MASK}]`],
  // Slack incoming webhook paths carry the secret in the URL
  [/(hooks\.slack\.com\/services\/)[A-Za-z0-9/]+/g, `$1${MASK}`],
];

export function redactText(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  for (const [re, repl] of PATTERNS) out = out.replace(re, repl);
  return out;
}

const SECRET_KEY = /pass(word|phrase)?|secret|token|privatekey|private[-_]?key|credential|apikey|api[-_]?key|^key$|incomingwebhook|webhook/i;

/** Deep copy of a value with secret-named fields masked and every string scrubbed. */
export function redactValue<T>(value: T, depth = 0): T {
  if (depth > 8) return value;
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1)) as T;
  if (value && typeof value === 'object') {
    if (value instanceof Error) return redactText(value.message) as T;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? MASK : redactValue(v, depth + 1);
    }
    return out as T;
  }
  return value;
}
