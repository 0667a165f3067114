/**
 * Which AI coding agent runs lsm, from the environment variables agents set in the
 * commands they spawn (see docs/audit.md for the table and its sources) and, failing
 * those, from the names of the processes above lsm. Markers are advisory: an agent can
 * unset them and anyone can forge them; they make honest access legible.
 */

interface Rule {
  variable: string;
  /** Only this value matches (case-insensitive); otherwise any non-empty value. */
  value?: string;
  /** The agent's name; undefined means the variable's value is the name. */
  agent?: string;
  /** Variables that carry the agent's session or thread id, in preference order. */
  session?: string[];
  /** Present in every terminal of an editor, so not proof of an agent on its own. */
  weak?: boolean;
}

const CLAUDE = ['CLAUDE_CODE_SESSION_ID'];
const CODEX = ['CODEX_THREAD_ID', 'CODEX_SESSION_ID'];
const AMP = ['AMP_CURRENT_THREAD_ID', 'AGENT_THREAD_ID'];

/** In precedence order: the first strong rule that matches names the agent. */
const RULES: Rule[] = [
  { variable: 'LSM_AGENT' },
  // Amp sets CLAUDECODE too, so it must be recognised first.
  { variable: 'AGENT', value: 'amp', agent: 'amp', session: AMP },
  // The original's six, in its order, except that CLAUDECODE (the variable Claude Code
  // really sets) comes before CLAUDE_CODE, and CURSOR_TRACE_ID (every Cursor terminal) is weak.
  { variable: 'CLAUDECODE', agent: 'claude', session: CLAUDE },
  { variable: 'CLAUDE_CODE', agent: 'claude', session: CLAUDE },
  { variable: 'AIDER_PROCESS', agent: 'aider' },
  { variable: 'CONTINUE_SESSION_ID', agent: 'continue', session: ['CONTINUE_SESSION_ID'] },
  { variable: 'OPENHANDS_RUNTIME', agent: 'openhands' },
  { variable: 'CLAUDE_CODE_ENTRYPOINT', agent: 'claude', session: CLAUDE },
  { variable: 'CODEX_THREAD_ID', agent: 'codex', session: CODEX },
  { variable: 'CODEX_SESSION_ID', agent: 'codex', session: CODEX },
  { variable: 'CODEX_SANDBOX', agent: 'codex', session: CODEX },
  { variable: 'CODEX_SANDBOX_NETWORK_DISABLED', agent: 'codex', session: CODEX },
  { variable: 'CODEX_CI', agent: 'codex', session: CODEX },
  { variable: 'GEMINI_CLI', agent: 'gemini' },
  { variable: 'QWEN_CODE', agent: 'qwen' },
  { variable: 'COPILOT_AGENT', agent: 'copilot', session: ['COPILOT_AGENT_SESSION_ID'] },
  { variable: 'COPILOT_CLI', agent: 'copilot' },
  { variable: 'CURSOR_AGENT', agent: 'cursor-agent' },
  { variable: 'CURSOR_EXTENSION_HOST_ROLE', value: 'agent-exec', agent: 'cursor' },
  { variable: 'CLINE_ACTIVE', agent: 'cline' },
  { variable: 'GOOSE_TERMINAL', agent: 'goose' },
  { variable: 'AMP_CURRENT_THREAD_ID', agent: 'amp', session: AMP },
  { variable: 'OPENCODE', agent: 'opencode' },
  { variable: 'OPENCODE_CLIENT', agent: 'opencode' },
  { variable: 'CRUSH', agent: 'crush' },
  { variable: 'AUGMENT_AGENT', agent: 'augment' },
  { variable: 'PI_CODING_AGENT', agent: 'pi' },
  { variable: 'OZ_RUN_ID', agent: 'warp', session: ['OZ_RUN_ID'] },
  { variable: 'ANTIGRAVITY_AGENT', agent: 'antigravity' },
  { variable: 'JUNIE_SHIM_PATH', agent: 'junie' },
  { variable: 'JUNIE_DATA', agent: 'junie' },
  { variable: 'REPLIT_MODE', value: 'assistant', agent: 'replit' },
  // Generic declarations (OpenHands, Copilot, Crush, Goose, Pi use them): the value is the name.
  { variable: 'AI_AGENT' },
  { variable: 'AGENT' },
  { variable: 'CURSOR_TRACE_ID', agent: 'cursor', weak: true },
  { variable: 'TERM_PROGRAM', value: 'kiro', agent: 'kiro', weak: true },
  { variable: 'ZED_TERM', agent: 'zed', weak: true },
  { variable: 'TERM_PROGRAM', value: 'zed', agent: 'zed', weak: true },
  { variable: 'CODEIUM_EDITOR_APP_ROOT', agent: 'windsurf', weak: true },
  { variable: 'REPL_ID', agent: 'replit', weak: true },
];

export interface EnvMarker {
  /** The agent's name, "" when no variable names one. */
  agent: string;
  /** `env:VAR` of the variable that named it. */
  source: string;
  session: string;
  /** Every marker variable present, in precedence order. */
  vars: string[];
  /** True when the agent came from a strong variable (not a weak one). */
  strong: boolean;
}

// Names and ids come from the environment, which anyone can set: keep them short and
// printable so a row cannot smuggle a payload or terminal escapes through them.
function cleanName(v: string): string {
  const s = v.trim().toLowerCase().replace(/[^a-z0-9._@+-]+/g, '_').slice(0, 64);
  return s === '1' || s === 'true' || s === 'yes' ? 'agent' : s;
}

function cleanSession(v: string | undefined): string {
  if (!v) return '';
  const s = v.trim();
  return /^[A-Za-z0-9._:@/+=-]{1,128}$/.test(s) ? s : '';
}

function label(rule: Rule, value: string): string {
  if (rule.value) return `${rule.variable}=${rule.value}`;
  return rule.agent === undefined ? `${rule.variable}=${cleanName(value)}` : rule.variable;
}

/**
 * Reads the marker variables. Weak ones name the agent only when stdin is not a
 * terminal: a person typing in a Cursor or Zed terminal carries them too.
 */
export function markerFromEnv(env: NodeJS.ProcessEnv, hasTTY: boolean): EnvMarker {
  const vars: string[] = [];
  let chosen: { rule: Rule; value: string } | undefined;
  let weak: { rule: Rule; value: string } | undefined;
  for (const rule of RULES) {
    const value = env[rule.variable];
    if (!value || (rule.value && value.trim().toLowerCase() !== rule.value)) continue;
    if (rule.agent === undefined && !cleanName(value)) continue;
    const name = label(rule, value);
    if (!vars.includes(name)) vars.push(name);
    if (rule.weak) weak ??= { rule, value };
    else chosen ??= { rule, value };
  }
  const pick = chosen ?? (hasTTY ? undefined : weak);
  if (!pick) return { agent: '', source: '', session: '', vars, strong: false };
  const { rule, value } = pick;
  let session = '';
  for (const v of rule.session ?? []) {
    session = cleanSession(env[v]);
    if (session) break;
  }
  return {
    agent: rule.agent ?? cleanName(value),
    source: `env:${rule.variable}`,
    session,
    vars,
    strong: !rule.weak,
  };
}

/** Process names (comm, 15 characters at most on Linux) of agent CLIs. */
const PROCESS_AGENTS: Record<string, string> = {
  claude: 'claude',
  codex: 'codex',
  aider: 'aider',
  'cursor-agent': 'cursor-agent',
  gemini: 'gemini',
  goose: 'goose',
  opencode: 'opencode',
  amp: 'amp',
  crush: 'crush',
  qwen: 'qwen',
  auggie: 'augment',
  cline: 'cline',
  copilot: 'copilot',
  devin: 'devin',
  openhands: 'openhands',
  cn: 'continue',
  'kiro-cli': 'kiro',
  junie: 'junie',
  droid: 'droid',
};

/** Package directories of agents that run as `node <script>` (their comm is just "node"). */
const SCRIPT_AGENTS: Array<[RegExp, string]> = [
  [/[/\\]claude-code[/\\]/, 'claude'],
  [/[/\\]@openai[/\\]codex[/\\]/, 'codex'],
  [/[/\\]gemini-cli[/\\]/, 'gemini'],
  [/[/\\]qwen-code[/\\]/, 'qwen'],
  [/[/\\]@sourcegraph[/\\]amp[/\\]/, 'amp'],
  [/[/\\]auggie[/\\]/, 'augment'],
  [/[/\\]opencode-ai[/\\]/, 'opencode'],
  [/[/\\]@githubnext[/\\]github-copilot-cli[/\\]|[/\\]@github[/\\]copilot[/\\]/, 'copilot'],
];

const INTERPRETERS = /^(node|nodejs|bun|deno|python[0-9.]*|ruby)$/;

/** The agent a process is, from its name and, for interpreters, its script path. */
export function agentOfProcess(comm: string, script?: string): string | undefined {
  const base = comm.replace(/^-/, '').replace(/^.*\//, '');
  const direct = PROCESS_AGENTS[base];
  if (direct) return direct;
  if (!script || !INTERPRETERS.test(base)) return undefined;
  for (const [re, agent] of SCRIPT_AGENTS) if (re.test(script)) return agent;
  const name = script.replace(/^.*[/\\]/, '').replace(/\.(m?js|cjs|py|ts)$/, '');
  return PROCESS_AGENTS[name];
}

export function isInterpreter(comm: string): boolean {
  return INTERPRETERS.test(comm.replace(/^.*\//, ''));
}

/** Processes that only pass control on: lsm looks through them for the program that ran it. */
const SHELLS = new Set([
  'sh', 'bash', 'zsh', 'dash', 'ash', 'fish', 'ksh', 'mksh', 'oksh', 'pdksh', 'tcsh', 'csh', 'yash', 'nu',
  'pwsh', 'xonsh', 'elvish', 'rc', 'es', 'busybox',
  'env', 'timeout', 'nohup', 'sudo', 'doas', 'su', 'runuser', 'script', 'xargs', 'nice', 'ionice', 'stdbuf',
  'setsid', 'time', 'chrt', 'taskset', 'flock', 'unbuffer', 'npm', 'npx', 'pnpm', 'yarn', 'bunx', 'make',
]);

export function isShell(comm: string): boolean {
  const base = comm.replace(/^-/, '').replace(/^.*\//, '');
  // npm renames itself "npm exec lsm…"; the first word is the program.
  return SHELLS.has(base.split(' ')[0]);
}
