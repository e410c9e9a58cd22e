#!/usr/bin/env node
// The scripted browser of takeoff-cpp's interoperability tests: `node browser.mjs <url>`.
//
// GETs url and follows redirects (301, 302, 303, 307, 308) with a cookie jar, through
// provider.mjs's automatic interaction, until it reaches the authorization URL's redirect_uri; GETs
// that too (the listener under test answers it), prints its status on stderr and exits 0, whatever
// that status is (judging the listener's answer is the test's business). It needs no argument but
// the URL, so it works as $BROWSER for the library's launcher.
//
// It exits non-zero with a message on stderr when a page that is not the redirect_uri does not
// redirect (an error page of the server: its text is printed), when a request fails, after 20
// redirects, or when a URL points anywhere but the loopback interface: it only ever connects to
// 127.0.0.0/8, localhost (as 127.0.0.1) and [::1].
//
// For end-to-end failure tests, TAKEOFF_BROWSER_TAMPER (a comma-separated list) makes it misbehave:
//   state           the redirect to redirect_uri carries a different state value;
//   code_challenge  the authorization request carries a different (well-formed) S256 code_challenge,
//                   so the client's code_verifier no longer matches at the token endpoint.
// Each requested tampering must happen, or the browser fails.
//
// Exit codes: 0 reached redirect_uri; 1 any failure; 2 bad usage.

import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import process from 'node:process';

const maxRedirects = 20;
const requestTimeoutMs = 30000;

function fail(message, code = 1) {
  process.stderr.write(`browser.mjs: ${message}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.length !== 1) fail('usage: node browser.mjs <url>', 2);

const tampering = new Set((process.env.TAKEOFF_BROWSER_TAMPER ?? '').split(',').map((s) => s.trim()).filter(Boolean));
for (const what of tampering) {
  if (what !== 'state' && what !== 'code_challenge') fail(`unknown TAKEOFF_BROWSER_TAMPER value ${JSON.stringify(what)}`, 2);
}
const tampered = new Set();

function parseUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    fail(`not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`refusing ${url.protocol} URL (http and https only)`);
  const host = url.hostname;
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(host);
  if (!loopback) fail(`refusing to connect to ${JSON.stringify(host)}: only 127.0.0.1, localhost and [::1]`);
  return url;
}

// Where a connection for url goes: localhost is pinned to 127.0.0.1, never resolved.
function connectAddress(url) {
  if (url.hostname === 'localhost') return '127.0.0.1';
  if (url.hostname === '[::1]') return '::1';
  return url.hostname;
}

// --- A small cookie jar (RFC 6265 subset: host-only cookies keyed by host, path and name; Path
// prefix matching; Max-Age/Expires in the past delete; Secure cookies only over https).
const jar = new Map(); // `${host} ${path} ${name}` -> { host, path, name, value, secure }

function defaultPath(url) {
  const { pathname } = url;
  if (!pathname.startsWith('/') || pathname.lastIndexOf('/') === 0) return '/';
  return pathname.slice(0, pathname.lastIndexOf('/'));
}

function storeCookies(url, setCookies) {
  for (const header of setCookies ?? []) {
    const [pair, ...attributes] = header.split(';');
    const equals = pair.indexOf('=');
    if (equals <= 0) continue;
    const name = pair.slice(0, equals).trim();
    const value = pair.slice(equals + 1).trim();
    let path = defaultPath(url);
    let expired = false;
    let secure = false;
    for (const attribute of attributes) {
      const [rawKey, ...rest] = attribute.split('=');
      const key = rawKey.trim().toLowerCase();
      const attributeValue = rest.join('=').trim();
      if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue;
      else if (key === 'max-age' && /^-?[0-9]+$/.test(attributeValue)) expired ||= Number(attributeValue) <= 0;
      else if (key === 'expires' && !Number.isNaN(Date.parse(attributeValue))) expired ||= Date.parse(attributeValue) <= Date.now();
      else if (key === 'secure') secure = true;
    }
    const id = `${url.hostname} ${path} ${name}`;
    if (expired) jar.delete(id);
    else jar.set(id, { host: url.hostname, path, name, value, secure });
  }
}

function pathMatches(requestPath, cookiePath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function cookieHeader(url) {
  const matching = [...jar.values()]
    .filter((c) => c.host === url.hostname && pathMatches(url.pathname, c.path) && (!c.secure || url.protocol === 'https:'))
    .sort((a, b) => b.path.length - a.path.length);
  return matching.map((c) => `${c.name}=${c.value}`).join('; ');
}

// --- One GET: resolves with { status, location, body } (body: the first 2 KiB, as text).
function get(url) {
  return new Promise((resolve, reject) => {
    const headers = { 'user-agent': 'takeoff-scripted-browser', accept: 'text/html,*/*' };
    const cookies = cookieHeader(url);
    if (cookies) headers.cookie = cookies;
    const transport = url.protocol === 'https:' ? https : http;
    const request = transport.request({
      method: 'GET',
      host: connectAddress(url),
      servername: url.protocol === 'https:' && url.hostname === 'localhost' ? 'localhost' : undefined,
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      agent: false,
      timeout: requestTimeoutMs,
    }, (response) => {
      storeCookies(url, response.headers['set-cookie']);
      const chunks = [];
      let size = 0;
      response.on('data', (chunk) => {
        if (size < 2048) chunks.push(chunk);
        size += chunk.length;
      });
      response.on('end', () => resolve({
        status: response.statusCode,
        location: response.headers.location,
        body: Buffer.concat(chunks).toString('utf8').slice(0, 2048),
      }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${requestTimeoutMs / 1000} s`)));
    request.on('error', reject);
    request.end();
  });
}

// A well-formed S256 challenge of a verifier nobody knows.
function otherChallenge() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return crypto.createHash('sha256').update(verifier).digest('base64url');
}

function sameEndpoint(a, b) {
  return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
}

let url = parseUrl(args[0]);
const redirectUriText = url.searchParams.get('redirect_uri');
const redirectUri = redirectUriText ? parseUrl(redirectUriText) : undefined;
if (!redirectUri) process.stderr.write('browser.mjs: the URL has no redirect_uri; following redirects to the end\n');

if (tampering.has('code_challenge')) {
  if (!url.searchParams.has('code_challenge')) fail('TAKEOFF_BROWSER_TAMPER=code_challenge, but the URL has no code_challenge');
  url.searchParams.set('code_challenge', otherChallenge());
  tampered.add('code_challenge');
}

for (let hop = 0; ; hop += 1) {
  const atRedirectUri = redirectUri !== undefined && sameEndpoint(url, redirectUri);
  if (atRedirectUri && tampering.has('state')) {
    if (!url.searchParams.has('state')) fail('TAKEOFF_BROWSER_TAMPER=state, but the redirect carries no state');
    url.searchParams.set('state', `${url.searchParams.get('state')}-tampered`);
    tampered.add('state');
  }
  let response;
  try {
    response = await get(url);
  } catch (error) {
    fail(`GET ${url.origin}${url.pathname} failed: ${error.message}`);
  }
  const isRedirect = [301, 302, 303, 307, 308].includes(response.status) && response.location;
  if (atRedirectUri || (!redirectUri && !isRedirect)) {
    for (const what of tampering) {
      if (!tampered.has(what)) fail(`TAKEOFF_BROWSER_TAMPER=${what} was asked for but did not happen`);
    }
    process.stderr.write(`browser.mjs: ${url.origin}${url.pathname} answered ${response.status}\n`);
    process.exit(0);
  }
  if (!isRedirect) {
    fail(`${url.origin}${url.pathname} answered ${response.status} without a redirect:\n${response.body}`);
  }
  if (hop + 1 >= maxRedirects) fail(`more than ${maxRedirects} redirects`);
  let next;
  try {
    next = new URL(response.location, url);
  } catch {
    fail(`${url.origin}${url.pathname} redirected to an invalid Location`);
  }
  url = parseUrl(next.href);
}
