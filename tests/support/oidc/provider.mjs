// A real OAuth 2.0 / OpenID Connect authorization server (oidc-provider, pinned in package.json) for
// takeoff-cpp's interoperability tests. It listens on 127.0.0.1 only, prints ONE JSON line on stdout
// once it accepts connections, logs to stderr, and stays up until its stdin closes or it gets
// SIGTERM/SIGINT.
//
//   node provider.mjs --port 0 --client-id ID --client-secret SECRET --redirect-uri URI
//                     [--redirect-uri URI2] [--access-ttl S] [--refresh-ttl S] [--scope NAME]...
//                     [--rotate-refresh-tokens] [--deny] [--snowflake-paths]
//
// Clients (both confidential, application_type native, so http loopback redirect URIs are allowed
// and, per RFC 8252 section 7.3, a registered http://127.0.0.1/PATH matches any port):
//   ID        token_endpoint_auth_method client_secret_post
//   ID-basic  token_endpoint_auth_method client_secret_basic
// Both: grant_types authorization_code + refresh_token, response_types code, PKCE required (S256).
// A refresh token is issued when the granted scope has `offline_access` or `refresh_token`
// (Snowflake's name for it). Scopes the server does not know are dropped silently; --scope NAME adds
// one (for example session:role:ANALYST) so that it is granted and echoed.
//
// The interaction is automatic: /interaction/<uid> finishes the login prompt as "test-user", and
// the consent prompt that follows by granting every requested scope and claim, and redirects on, so a client that keeps cookies and follows
// redirects ends at the redirect_uri with a code. With --deny it ends every interaction with
// access_denied instead.
//
// Endpoints: /auth and /token, or with --snowflake-paths Snowflake's /oauth/authorize and
// /oauth/token-request (so that an account URL http://127.0.0.1:PORT derives them).

import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

// oidc-provider prints its development notices with console.info (stdout). stdout carries only the
// JSON line, so every console method writes to stderr. This runs before oidc-provider is imported
// (dynamically, below), as static imports would run first.
for (const method of ['log', 'info', 'debug', 'warn']) {
  console[method] = (...args) => console.error(...args); // eslint-disable-line no-console
}

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

function parseArguments(argv) {
  const options = {
    port: 0, clientId: undefined, clientSecret: undefined, redirectUris: [], accessTtl: 3600,
    refreshTtl: 14 * 24 * 3600, scopes: [], rotateRefreshTokens: false, deny: false, snowflakePaths: false,
  };
  const seconds = (name, text) => {
    if (!/^[0-9]+$/.test(text ?? '') || Number(text) < 1) fail(`${name} needs a whole number of seconds >= 1`);
    return Number(text);
  };
  for (let i = 0; i < argv.length; i += 1) {
    const name = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${name} needs a value`);
      i += 1;
      return argv[i];
    };
    switch (name) {
      case '--port': {
        const text = value();
        if (!/^[0-9]+$/.test(text) || Number(text) > 65535) fail('--port needs a port number (0: any free port)');
        options.port = Number(text);
        break;
      }
      case '--client-id': options.clientId = value(); break;
      case '--client-secret': options.clientSecret = value(); break;
      case '--redirect-uri': options.redirectUris.push(value()); break;
      case '--access-ttl': options.accessTtl = seconds(name, value()); break;
      case '--refresh-ttl': options.refreshTtl = seconds(name, value()); break;
      case '--scope': options.scopes.push(value()); break;
      case '--rotate-refresh-tokens': options.rotateRefreshTokens = true; break;
      case '--deny': options.deny = true; break;
      case '--snowflake-paths': options.snowflakePaths = true; break;
      default: fail(`unknown argument ${JSON.stringify(name)}`);
    }
  }
  if (!options.clientId) fail('--client-id is required');
  if (!options.clientSecret) fail('--client-secret is required');
  if (options.redirectUris.length === 0) fail('at least one --redirect-uri is required');
  for (const scope of options.scopes) {
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) fail(`--scope ${JSON.stringify(scope)} is not a scope token`);
  }
  return options;
}

const options = parseArguments(process.argv.slice(2));

const { default: Provider, errors } = await import('oidc-provider');

// Bind first, so that the issuer can name the port the kernel picked.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(options.port, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

// A fresh signing key and cookie key per run, instead of oidc-provider's published development ones.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'takeoff-test', use: 'sig', alg: 'RS256' };

const clientBase = {
  client_secret: options.clientSecret,
  application_type: 'native',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: options.redirectUris,
};

const refreshScopes = ['offline_access', 'refresh_token'];

const configuration = {
  clients: [
    { ...clientBase, client_id: options.clientId, token_endpoint_auth_method: 'client_secret_post' },
    { ...clientBase, client_id: `${options.clientId}-basic`, token_endpoint_auth_method: 'client_secret_basic' },
  ],
  clientAuthMethods: ['client_secret_post', 'client_secret_basic'],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: [...new Set(['openid', ...refreshScopes, ...options.scopes])],
  responseTypes: ['code'],
  pkce: { methods: ['S256'], required: () => true },
  features: { devInteractions: { enabled: false } },
  ...(options.snowflakePaths ? { routes: { authorization: '/oauth/authorize', token: '/oauth/token-request' } } : {}),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && refreshScopes.some((scope) => code.scopes.has(scope)),
  // Tokens outlive the browser session (the tests sign in once and then refresh).
  expiresWithSession: async () => false,
  ...(options.rotateRefreshTokens ? { rotateRefreshToken: true } : {}),
  ttl: {
    AccessToken: options.accessTtl,
    RefreshToken: options.refreshTtl,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: options.refreshTtl,
    IdToken: 3600,
  },
  renderError(ctx, out) {
    // Plain text: the scripted browser prints it when it stops at an error page.
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${out.error}: ${out.error_description ?? ''}\n`;
  },
};

let provider;
try {
  provider = new Provider(issuer, configuration);
} catch (error) {
  fail(`invalid configuration: ${error.message}`);
}

// One line per request on stderr: method, path (never the query, which carries codes and state),
// status, and the OAuth error if any.
provider.use(async (ctx, next) => {
  await next();
  const error = (ctx.body && typeof ctx.body === 'object' && ctx.body.error) || '';
  process.stderr.write(`provider: ${ctx.method} ${ctx.path} -> ${ctx.status}${error ? ` ${error}` : ''}\n`);
});

for (const event of ['grant.error', 'server_error', 'authorization.error']) {
  provider.on(event, (ctx, error) => {
    process.stderr.write(`provider: ${event}: ${error.message}${error.error_description ? `: ${error.error_description}` : ''}${error.error_detail ? ` (${error.error_detail})` : ''}\n`);
  });
}

// The automatic interaction: no login page, no consent page.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) {
    await next();
    return;
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (`/interaction/${details.uid}` !== ctx.path) throw new errors.InvalidRequest('interaction path mismatch');
  if (options.deny) {
    await provider.interactionFinished(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'the test provider was started with --deny',
    }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: 'test-user' } },
      { mergeWithLastSubmission: false });
    return;
  }
  // consent: grant everything the request asked for and the server knows.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId: await grant.save() } },
    { mergeWithLastSubmission: true });
});

server.on('request', provider.callback());

const endpoints = {
  issuer,
  authorization_endpoint: `${issuer}${options.snowflakePaths ? '/oauth/authorize' : '/auth'}`,
  token_endpoint: `${issuer}${options.snowflakePaths ? '/oauth/token-request' : '/token'}`,
  discovery_endpoint: `${issuer}/.well-known/openid-configuration`,
  client_id: options.clientId,
  basic_client_id: `${options.clientId}-basic`,
};
process.stdout.write(`${JSON.stringify(endpoints)}\n`);
process.stderr.write(`provider: listening on ${issuer}\n`);

let stopping = false;
function stop(reason) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`provider: stopping (${reason})\n`);
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
// Whoever started the server may close its end of stdout after reading the JSON line.
process.stdout.on('error', () => {});
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.stdin.on('end', () => stop('stdin closed'));
process.stdin.on('error', () => stop('stdin error'));
process.stdin.resume();
