import { usage } from '../errors.js';

/**
 * The agents' own sandbox settings that deny the lsm home: for agents run without
 * `lsm shield`, or inside it as a second layer. Key names as the vendors document them
 * at the time of writing (Claude Code settings.json `sandbox`, Codex permission
 * profiles, a beta); both have had reports of deny rules that did not hold, which is
 * why lsm shield exists.
 */
export function printConfig(agent: string, home: string): string {
  const sock = `${home}/keeper.sock`;
  if (agent === 'claude') {
    const settings = {
      sandbox: {
        enabled: true,
        filesystem: { denyRead: [home, './.env', './.env.*', './**/*.age'] },
        network: { allowUnixSockets: [sock] },
      },
      permissions: { deny: [`Read(${home}/**)`, `Edit(${home}/**)`, 'Read(./.env)', 'Read(./.env.*)'] },
    };
    return `${JSON.stringify(settings, null, 2)}
// Merge into ~/.claude/settings.json (or .claude/settings.json of the project).
// lsm commands run by the agent reach the keeper through ${sock}.
// On macOS sandbox.network.allowUnixSockets lets that socket through. On Linux Claude
// Code's sandbox blocks Unix sockets with seccomp and ignores that list: only
// "allowAllUnixSockets": true (every socket, not just the keeper's) lets lsm reach the
// keeper from inside it; without it lsm commands there fail as locked.
`;
  }
  if (agent === 'codex') {
    return `# Add to ~/.codex/config.toml (permission profiles are a beta: check the current docs).
default_permissions = "lsm-shield"

[permissions.lsm-shield]
extends = ":workspace"

[permissions.lsm-shield.filesystem]
${JSON.stringify(home)} = "none"
":project_roots" = { "**/.env" = "none", "**/.env.*" = "none", "**/*.age" = "none" }
glob_scan_max_depth = 3

# lsm commands run by the agent reach the keeper through ${sock}: a sandbox that
# blocks Unix sockets must let that one through, or they fail as locked.
`;
  }
  throw usage(`--print-config ${agent}: unknown agent`, 'lsm shield --print-config claude   (or codex)');
}
