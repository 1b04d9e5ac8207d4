// Tokens: when the server has tokens configured, the page asks for one once (the first answer
// that says 401), keeps it in the tab (sessionStorage: gone when the tab closes, never in the
// URL bar), and sends it with every request — as `Authorization: Bearer` on fetches, and as
// `?token=` on event streams, which browsers open without headers.
let consoleAuthScript = #"""
let token = sessionStorage.getItem('raftkv-token');

function withToken(url) {
  if (!token) return url;
  return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}

function askForToken(reason) {
  const entered = window.prompt(reason + '\nThis server needs a token (an admin token for the whole page, a read token to look):', '');
  if (!entered) return false;
  token = entered.trim();
  sessionStorage.setItem('raftkv-token', token);
  return true;
}

// fetch with the token; a 401 asks for one (once per answer) and tries again.
async function authorizedFetch(url, options = {}) {
  const send = () => fetch(url, { ...options, headers: { ...(options.headers || {}), ...(token ? { Authorization: 'Bearer ' + token } : {}) } });
  let response = await send();
  if (response.status === 401 && askForToken(token ? 'The token was refused.' : 'No token yet.')) response = await send();
  return response;
}

// After an event stream failed: was it the token? Asks for one if so; says whether to retry now.
async function checkTokenAfterStreamError() {
  try {
    const response = await authorizedFetch('/v1/status');
    return response.ok;
  } catch (error) {
    return false;
  }
}
"""#
