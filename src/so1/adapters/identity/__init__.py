"""Single sign-on adapters: an OpenID Connect provider (Authlib for the code flow, joserfc
for the id_token)."""
