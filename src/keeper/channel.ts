/**
 * Where approvals are asked (src/keeper/approval.ts): the terminal and display of the
 * process that ran `lsm unlock`, which typed the passphrase and so is trusted as far as
 * the passphrase is. Apart from approval.ts so that `lsm unlock` (which the get bundle
 * carries, for the inline unlock offer) does not carry the pinentry code.
 */
/** Where approvals may go, as `lsm unlock` saw it: chosen by whoever holds the passphrase. */
export interface Channel {
  tty?: string;
  term?: string;
  display?: string;
  wayland?: string;
  xauthority?: string;
  runtimeDir?: string;
  dbus?: string;
}

export const TTY = /^\/dev\/(pts\/\d{1,6}|tty[A-Za-z0-9]{0,8})$/;
export const DISPLAY = /^[A-Za-z0-9_.:/-]{1,128}$/;
const PATHISH = /^\/[^\0\n]{0,4095}$/;
const DBUS = /^[A-Za-z0-9_.:/=,;%-]{1,512}$/;

/** The channel the unlocking process passes to the keeper (its terminal, its display), each field checked. */
export function channelOf(tty: string, env: NodeJS.ProcessEnv): Channel {
  const c: Channel = {};
  if (TTY.test(tty)) {
    c.tty = tty;
    if (env.TERM && /^[A-Za-z0-9_.+-]{1,64}$/.test(env.TERM)) c.term = env.TERM;
  }
  if (env.DISPLAY && DISPLAY.test(env.DISPLAY)) c.display = env.DISPLAY;
  if (env.WAYLAND_DISPLAY && DISPLAY.test(env.WAYLAND_DISPLAY)) c.wayland = env.WAYLAND_DISPLAY;
  if (env.XAUTHORITY && PATHISH.test(env.XAUTHORITY)) c.xauthority = env.XAUTHORITY;
  if (env.XDG_RUNTIME_DIR && PATHISH.test(env.XDG_RUNTIME_DIR)) c.runtimeDir = env.XDG_RUNTIME_DIR;
  if (env.DBUS_SESSION_BUS_ADDRESS && DBUS.test(env.DBUS_SESSION_BUS_ADDRESS)) c.dbus = env.DBUS_SESSION_BUS_ADDRESS;
  return c;
}

export function describeChannel(c: Channel): string | null {
  const parts = [c.tty ? `terminal ${c.tty}` : '', c.display ? `display ${c.display}` : '', c.wayland ? `wayland ${c.wayland}` : ''].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : null;
}

/** Reads the channel back from the keeper's argument, dropping anything that does not look right. */
export function parseChannel(text: string | undefined): Channel {
  if (!text) return {};
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const s = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
    const env: NodeJS.ProcessEnv = { TERM: s('term'), DISPLAY: s('display'), WAYLAND_DISPLAY: s('wayland'), XAUTHORITY: s('xauthority'), XDG_RUNTIME_DIR: s('runtimeDir'), DBUS_SESSION_BUS_ADDRESS: s('dbus') };
    return channelOf(s('tty') ?? '', env);
  } catch {
    return {};
  }
}
