"""Pure rules and provider data: OAuth 2.0 and OpenID Connect requests and answers, the
registered client, provider presets and quirks, the token record, which URLs may carry
secrets. Sends nothing, stores nothing; imports only `oauthdance.base`."""
