/**
 * The admin password policy, one pure rule used by the API (createAdmin) and the configuration
 * (ADMIN_PASSWORD): at least 12 characters, not a common password with a few characters around it,
 * and not a trivial pattern (a repeated block, a run such as 123456789012 or qwertyuiop).
 */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/** Base words of the most common passwords (English and Brazilian Portuguese), compared without digits and symbols. */
const COMMON = new Set([
  'password', 'passw', 'pass', 'passwd', 'pwd', 'qwerty', 'qwertz', 'azerty', 'asdf', 'asdfgh', 'zxcvbn', 'letmein', 'welcome', 'admin',
  'administrator', 'root', 'login', 'iloveyou', 'monkey', 'dragon', 'football', 'baseball', 'soccer', 'master', 'sunshine', 'princess',
  'shadow', 'superman', 'batman', 'trustno', 'changeme', 'secret', 'default', 'test', 'tester', 'testing', 'guest', 'user', 'hello',
  'abc', 'abcd', 'abcdef', 'abcabc', 'qazwsx', 'michael', 'charlie', 'jordan', 'starwars', 'whatever', 'freedom', 'computer', 'internet',
  'senha', 'minhasenha', 'mudar', 'mudarsenha', 'trocar', 'brasil', 'brazil', 'flamengo', 'corinthians', 'palmeiras', 'santos',
  'saopaulo', 'gremio', 'vasco', 'teste', 'usuario', 'bemvindo', 'amor', 'teamo', 'deus', 'jesus', 'familia', 'company', 'empresa',
  'token', 'tokens', 'credits', 'litellm', 'librechat', 'openai', 'chatgpt',
]);

/** Sequences people walk on: the alphabet, the digit ring, keyboard rows. */
const RUNS = [
  'abcdefghijklmnopqrstuvwxyz',
  '0123456789'.repeat(PASSWORD_MAX_LENGTH / 10 + 2), // digits wrap: 7890123…
  'qwertyuiopasdfghjklzxcvbnm', // the letter rows, one after the other
  '1234567890qwertyuiop',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p', // columns
];

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's', '!': 'i' };

/** The shortest period p such that the text repeats its first p characters (abcdeabcdeab → 5). */
function period(s: string): number {
  for (let p = 1; p <= s.length / 2; p++) {
    let ok = true;
    for (let i = p; i < s.length && ok; i++) ok = s[i] === s[i - p];
    if (ok) return p;
  }
  return s.length;
}

/** Whether the text is one walk along a run (forwards or backwards), e.g. 123456789012, 9876543210, qwertyuiop. */
function isRun(s: string): boolean {
  return RUNS.some((run) => run.includes(s) || [...run].reverse().join('').includes(s));
}

/** The reason a password is refused, or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `password must have at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `password must have at most ${PASSWORD_MAX_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (new Set(lower).size < 5) return 'password is too repetitive: use at least 5 different characters';
  if (period(lower) <= lower.length / 2) return 'password is a repeated pattern (such as abcdeabcdeab): choose a passphrase of unrelated words';
  if (isRun(lower)) return 'password is a simple sequence (such as 123456789012 or qwertyuiop): choose a passphrase of unrelated words';
  // The word inside: letters only (password1234 → password), and with digits read as letters once
  // the digits and symbols around it are dropped (P@ssw0rd2024! → password).
  const letters = lower.replace(/[^a-z]/g, '');
  const core = lower.replace(/^[^a-z]+|[^a-z]+$/g, '');
  const deLeet = [...core].map((ch) => LEET[ch] ?? ch).join('').replace(/[^a-z]/g, '');
  if (COMMON.has(letters) || COMMON.has(deLeet)) {
    return 'password is too common (a well-known password with digits or symbols around it): choose a passphrase of unrelated words';
  }
  return null;
}
