"""Verify a Reqflo Gate decision assertion in a Python backend.

The gateway signs every request it forwards with a short-lived JWT in the
`x-reqflo-assertion` header and publishes its public keys at
`/.well-known/jwks.json` on its admin listener. A backend that verifies the
assertion knows the request passed the gateway, and exactly what was allowed:
check that the claims match the request you are serving.

Needs PyJWT with its crypto extra: `pip install 'pyjwt[crypto]'`.

    python3 verify_assertion.py JWKS_URL AUDIENCE METHOD PATH TOKEN
prints the verified claims as JSON, or exits 1 with the reason.
"""

import json
import sys

import jwt  # PyJWT

ISSUER = "reqflo-gateway"


def verify(token, jwks_client, audience, method, path):
    """The claims of a valid assertion for this request; raises otherwise."""
    key = jwks_client.get_signing_key_from_jwt(token)  # by `kid`, refetched on a new kid
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA", "ES256"],  # pinned: never take `alg` from the token alone
        issuer=ISSUER,
        audience=audience,  # the upstream name in the gateway's route config
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    if claims["method"] != method or claims["path"] != path:
        raise jwt.InvalidTokenError(
            f"assertion is for {claims['method']} {claims['path']}, not {method} {path}"
        )
    if claims["decision"] != "allow" and claims["mode"] != "shadow":
        raise jwt.InvalidTokenError("assertion does not state an allow")
    return claims


def main(argv):
    jwks_url, audience, method, path, token = argv[1:6]
    client = jwt.PyJWKClient(jwks_url)
    try:
        claims = verify(token, client, audience, method, path)
    except jwt.PyJWTError as e:
        print(f"rejected: {e}", file=sys.stderr)
        return 1
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
