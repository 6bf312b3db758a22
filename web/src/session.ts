// The signed-in session of this tab: the access token in memory and sessionStorage (gone
// when the tab closes); refreshing is the workspace's business (#20), here a 401 signs out.

import type { TokenPair } from './api';

const KEY = 'gsign.session';

export interface Session {
  access_token: string;
  refresh_token: string;
}

export function saveSession(tokens: TokenPair): void {
  sessionStorage.setItem(
    KEY,
    JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token }),
  );
}

export function currentSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function endSession(): void {
  sessionStorage.removeItem(KEY);
}
