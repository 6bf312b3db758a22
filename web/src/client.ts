// The workspace's API client, typed from GSign's OpenAPI document (docs/openapi.json →
// src/generated/openapi.ts by `npm run generate:api`; a unit test fails when they drift).
// It signs every call with the tab's session and, when the access token has run out (15
// minutes), trades the refresh token for a new pair once and repeats the call; a refusal of
// the refresh ends the session and goes to sign-in.

import createClient from 'openapi-fetch';
import { ApiError, type Problem } from './api';
import type { components, paths } from './generated/openapi';
import { currentSession, endSession, saveSession } from './session';

/** The API's schemas by name, e.g. `Schema<'EnvelopeDetail'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

/** Called when the session is over (refresh refused): the shell shows the sign-in page. */
let onSignedOut: () => void = () => undefined;

/** Sets what happens when the session ends behind the page's back. */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

let refreshing: Promise<string | null> | null = null;

/** A new access token from the refresh token (one exchange at a time), or `null`. */
function refreshAccess(): Promise<string | null> {
  refreshing ??= (async () => {
    const session = currentSession();
    if (!session) return null;
    const response = await fetch('/v1/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    }).catch(() => null);
    if (!response?.ok) {
      // A network failure keeps the session (the next call tries again); a refusal ends it.
      if (response) {
        endSession();
        onSignedOut();
      }
      return null;
    }
    const pair = (await response.json()) as Schema<'TokenPair'>;
    saveSession(pair);
    return pair.access_token;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** `fetch` with the session's bearer token and one refresh-and-retry on 401. */
async function authorizedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const session = currentSession();
  if (session) request.headers.set('authorization', `Bearer ${session.access_token}`);
  const response = await fetch(request);
  if (response.status !== 401 || !session) return response;
  const token = await refreshAccess();
  if (!token) return response;
  retry.headers.set('authorization', `Bearer ${token}`);
  return fetch(retry);
}

/** The typed client: `client.GET('/v1/envelopes/{id}', { params: { path: { id } } })`. */
export const client = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://localhost' : window.location.origin,
  fetch: authorizedFetch,
  headers: { accept: 'application/json' },
});

/**
 * The answer's data, or an `ApiError` with the problem (RFC 9457) the API answered; network
 * failures become status 0 like the signing page's calls.
 */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch {
    throw new ApiError({ type: 'about:blank/network', title: 'Network error', status: 0 });
  }
  const { data, error, response } = result;
  if (!response.ok) {
    if (error && typeof error === 'object' && 'type' in error) throw new ApiError(error as Problem);
    throw new ApiError({
      type: `about:blank/http-${response.status}`,
      title: response.statusText || 'Error',
      status: response.status,
    });
  }
  return data as T;
}
