// node-oidc-provider (a certified OpenID provider) as a real authorization server for the
// test tiers. Client-credentials tokens for one resource server, issued as RFC 9068 JWT
// access tokens through resource indicators (RFC 8707), optionally DPoP-bound (RFC 9449)
// with server nonces required at the token endpoint.
//
//   node server.js --port 4000 --resource https://api.example/ [--keys-file keys.json]
//
// Prints "ready <issuer>" on stdout once it listens. Signing keys are generated per run
// (ES256 and RS256) unless --keys-file holds a private JWKS; the tests never need them.
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '4000' },
    resource: { type: 'string', default: 'https://api.example/' },
    scopes: { type: 'string', default: 'todo:read todo:write' },
  },
});

const issuer = `http://127.0.0.1:${args.port}`;

function privateJwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}` };
}

const provider = new Provider(issuer, {
  clients: [
    // A plain confidential client: Bearer tokens.
    {
      client_id: 'todo-service',
      client_secret: 'todo-service-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
    // The same, but every token it gets is DPoP-bound (RFC 9449 §5.2).
    {
      client_id: 'todo-service-dpop',
      client_secret: 'todo-service-dpop-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      dpop_bound_access_tokens: true,
    },
  ],
  jwks: {
    keys: [
      privateJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
      privateJwk('rsa', { modulusLength: 2048 }, 'RS256'),
    ],
  },
  ttl: { ClientCredentials: 300 },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    dPoP: {
      enabled: true,
      // Stateless nonces (RFC 9449 §8): the token endpoint answers use_dpop_nonce to a
      // proof without one, so every client walks the nonce flow.
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => true,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => args.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== args.resource) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: args.scopes,
          audience: resourceIndicator,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

provider.on('server_error', (ctx, error) => console.error('server_error', error));

provider.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
