// OAuth 2.0 authorization code flow with PKCE (RFC 7636) through chrome.identity.
"use strict";

function base64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function pkcePair() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return { verifier, challenge };
}

// Returns {access_token, expires_at}; throws with a readable message on failure.
async function oauthLogin({ authorizeUrl, tokenUrl, clientId, scope }) {
  if (!authorizeUrl || !tokenUrl || !clientId) throw new Error("fill in the authorize URL, token URL and client ID");
  const redirectUri = chrome.identity.getRedirectURL("oauth");
  const { verifier, challenge } = await pkcePair();
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const url = new URL(authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope,
    state, code_challenge: challenge, code_challenge_method: "S256",
  }).toString();
  const redirected = await chrome.identity.launchWebAuthFlow({ url: url.toString(), interactive: true });
  const params = new URL(redirected).searchParams;
  if (params.get("state") !== state) throw new Error("OAuth state mismatch");
  if (params.get("error")) throw new Error(`OAuth error: ${params.get("error")}`);
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri,
      client_id: clientId, code_verifier: verifier,
    }),
  });
  if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
  const token = await res.json();
  return { access_token: token.access_token, expires_at: Date.now() + 1000 * (token.expires_in || 3600) };
}
