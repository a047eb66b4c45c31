// A small OpenID Connect provider for timecard-server's integration tests,
// built on oidc-provider (panva, OpenID Certified). Plain http on loopback;
// one confidential client; any login signs in with the password "secret";
// no consent screen. Test hooks (/test/mode) make the token endpoint return
// ID tokens that are correctly signed with the provider's own key but carry
// a wrong aud, a past exp or a wrong nonce. See README.md.
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
import {
  SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair,
} from 'jose';

const env = (name, fallback) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
};
const list = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);

const port = Number(env('OIDC_PORT', '0'));
const clientId = env('OIDC_CLIENT_ID', 'timecard');
const clientSecret = env('OIDC_CLIENT_SECRET', 'timecard-secret');
const redirectUris = list(env('OIDC_REDIRECT_URIS', 'http://127.0.0.1:9/cb'));
const postLogoutUris = list(env('OIDC_POST_LOGOUT_URIS', ''));
const otherAudience = env('OIDC_WRONG_AUDIENCE', 'some-other-client');
const PASSWORD = 'secret';
const MODES = new Set(['normal', 'wrong-audience', 'expired', 'wrong-nonce']);
let mode = 'normal';

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`provider.mjs: OIDC_PORT must be a port number, not ${process.env.OIDC_PORT}`);
  process.exit(2);
}

// The signing key: generated here so the tampering hook can re-sign with it.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const kid = `test-${randomBytes(6).toString('hex')}`;
const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

// Accounts: any login; the claims follow from its name.
const SUB_PREFIX = 'sub-';
function claimsFor(login) {
  let groups = ['staff'];
  if (login.startsWith('admin')) groups = ['timecard-admins'];
  else if (login.startsWith('client')) groups = ['timecard-clients'];
  return {
    email: `${login}@example.com`,
    email_verified: !login.startsWith('unverified'),
    name: login,
    groups,
  };
}

const htmlEscape = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

const page = (title, body) => `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${htmlEscape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>${htmlEscape(title)}</h1>
${body}
</body>
</html>`;

function loginForm(uid, error, loginHint) {
  return page('Sign-in', `${error ? `<p id="error" role="alert">${htmlEscape(error)}</p>\n` : ''}\
<form id="login-form" method="post" action="/interaction/${htmlEscape(uid)}/login" autocomplete="off">
  <label>Login <input type="text" name="login" id="login" required value="${htmlEscape(loginHint || '')}"></label>
  <label>Password <input type="password" name="password" id="password" required></label>
  <button type="submit" id="submit">Sign-in</button>
</form>
<p><a id="abort" href="/interaction/${htmlEscape(uid)}/abort">Cancel</a></p>`);
}

async function readBody(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 64 * 1024) ctx.throw(413, 'body too large');
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  if ((ctx.get('content-type') || '').includes('application/json')) {
    try { return raw ? JSON.parse(raw) : {}; } catch { ctx.throw(400, 'bad JSON'); }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

async function tamperIdToken(idToken) {
  const header = decodeProtectedHeader(idToken);
  const payload = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'wrong-audience':
      payload.aud = otherAudience;
      delete payload.azp;
      break;
    case 'expired':
      // Both well past any clock-skew allowance (over 10 minutes).
      payload.iat = now - 2 * 3600;
      payload.exp = now - 3600;
      if (typeof payload.auth_time === 'number') payload.auth_time = now - 2 * 3600;
      break;
    case 'wrong-nonce':
      payload.nonce = payload.nonce ? `${payload.nonce}-tampered` : 'tampered-nonce';
      break;
    default:
      return idToken;
  }
  // Same alg and kid: the key the JWKS publishes.
  return new SignJWT(payload).setProtectedHeader(header).sign(privateKey);
}

// Listen first (OIDC_PORT=0 picks a port), then build the provider, whose
// issuer needs the real port.
const server = http.createServer();
try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
} catch (err) {
  console.error(`provider.mjs: cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
}
const { port: realPort } = server.address();
const issuer = `http://127.0.0.1:${realPort}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  jwks: { keys: [privateJwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
    groups: ['groups'],
  },
  // Put the scope's claims in the ID token too (not only at userinfo).
  conformIdTokenClaims: false,
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // No confirmation to click: the form posts itself with logout=yes.
      async logoutSource(ctx, form) {
        const withYes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/><button type="submit" id="logout">Sign out</button></form>');
        ctx.body = page('Signing out', `${withYes}
<script>document.forms[0].submit();</script>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(ctx, sub) {
    if (!sub.startsWith(SUB_PREFIX)) return undefined;
    const login = sub.slice(SUB_PREFIX.length);
    return {
      accountId: sub,
      async claims() {
        return { sub, ...claimsFor(login) };
      },
    };
  },
  // Consent is implicit: a fresh grant holding every requested scope/claim.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.account.accountId,
    });
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
    const claims = [...ctx.oidc.requestParamClaims];
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out)
      .map(([k, v]) => `<p class="${htmlEscape(k)}"><strong>${htmlEscape(k)}</strong>: ${htmlEscape(v)}</p>`)
      .join('\n'));
  },
});

provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error:', err));

provider.use(async (ctx, next) => {
  // Test hook: GET/POST /test/mode?mode=normal|wrong-audience|expired|wrong-nonce
  if (ctx.path === '/test/mode') {
    let wanted = ctx.query.mode;
    if (ctx.method === 'POST' && !wanted) wanted = (await readBody(ctx)).mode;
    if (wanted !== undefined) {
      if (!MODES.has(wanted)) {
        ctx.status = 400;
        ctx.body = { error: `unknown mode ${wanted}`, modes: [...MODES] };
        return;
      }
      mode = wanted;
    } else if (ctx.method === 'POST') {
      ctx.status = 400;
      ctx.body = { error: 'mode is required', modes: [...MODES] };
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { mode };
    return;
  }

  // The login page (our own interaction, replacing devInteractions).
  const m = /^\/interaction\/([^/]+)(\/login|\/abort)?$/.exec(ctx.path);
  if (m) {
    const [, uid, action] = m;
    ctx.set('Cache-Control', 'no-store');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    if (!action && ctx.method === 'GET') {
      if (details.prompt.name !== 'login') {
        // Consent is never asked for (loadExistingGrant); finish anyway.
        ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, {}, { mergeWithLastSubmission: true }));
        return;
      }
      ctx.type = 'html';
      ctx.body = loginForm(uid, undefined, details.params.login_hint);
      return;
    }
    if (action === '/login' && ctx.method === 'POST') {
      const body = await readBody(ctx);
      const login = String(body.login || '').trim();
      if (!login || body.password !== PASSWORD) {
        ctx.status = 200;
        ctx.type = 'html';
        ctx.body = loginForm(uid, 'Wrong login or password.', login);
        return;
      }
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
        login: { accountId: `${SUB_PREFIX}${login}` },
      }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    }
    if (action === '/abort' && ctx.method === 'GET') {
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      ctx.redirect(returnTo);
      return;
    }
    ctx.throw(405);
  }

  await next();

  // Test hook: tamper with the ID token of a successful token response.
  if (ctx.path === '/token' && mode !== 'normal' && ctx.status === 200
      && ctx.body && typeof ctx.body === 'object' && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: await tamperIdToken(ctx.body.id_token) };
  }
});

server.on('request', provider.callback());

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`oidc-provider listening on ${issuer}\n`);
