// A certified OpenID provider (panva's oidc-provider) for SO1's sign-in tests, on loopback.
// PORT: where to listen. SO1_REDIRECT_URIS: the redirect URIs (comma-separated) of the client
// "so1" (secret "so1-test-secret"). The test users below sign in with their handle at the development
// login form (any password); each carries email, email_verified and groups claims, which
// go into the id_token (scopes "openid email profile"; groups ride on "profile"), or, with
// SO1_CLAIMS_IN_USERINFO=1, into the userinfo answer only (the id_token then has just sub:
// the provider's default, conformIdTokenClaims).
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

const users = {
  ana: { email: 'ana@example.test', email_verified: true, name: 'Ana Lima', groups: ['sre'] },
  sec: { email: 'sec@example.test', email_verified: true, name: 'Sec Ops', groups: ['sre', 'security'] },
  plain: { email: 'plain@example.test', email_verified: true, name: 'Plain', groups: ['marketing'] },
  unverified: { email: 'unverified@example.test', email_verified: false, name: 'Un', groups: ['sre'] },
  stranger: { email: 'stranger@example.test', email_verified: true, name: 'Stranger', groups: [] },
  dis: { email: 'dis@example.test', email_verified: true, name: 'Dis Abled', groups: ['sre'] },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'so1',
      client_secret: 'so1-test-secret',
      redirect_uris: process.env.SO1_REDIRECT_URIS.split(','),
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...user }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // false: the id_token carries the scopes' claims (as Okta's can); true: userinfo only
  conformIdTokenClaims: process.env.SO1_CLAIMS_IN_USERINFO === '1',
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['so1-test-only-cookie-key'] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
