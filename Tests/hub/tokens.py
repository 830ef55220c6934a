"""Device tokens: RS256 JWTs without expiry, as `pkg/api/jwttoken` issues them."""

from __future__ import annotations

import os
import re
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

BEARER_PREFIX = "Bearer "
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class TokenError(Exception):
    """The bearer is missing, malformed, badly signed or not a device token."""


def load_or_create_key(path: str) -> rsa.RSAPrivateKey:
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if path:
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
        os.chmod(path, 0o600)
    return key


class TokenSigner:
    def __init__(self, key: rsa.RSAPrivateKey):
        self.key = key
        self.public_key = key.public_key()

    def issue(self, uid: str, tenant: str, proof: bool = False, generation: int = 0) -> str:
        now = int(time.time())
        claims = {"claims": "device", "uid": uid, "tenant": tenant,
                  "jti": str(uuid.uuid4()), "iat": now, "nbf": now}
        if proof:
            claims["proof"] = True    # issued to a request that proved the device key
        if generation:
            claims["gen"] = generation  # tokens of older generations were revoked (tests)
        return jwt.encode(claims, self.key, algorithm="RS256")

    def verify_header(self, header: str | None) -> dict:
        """Claims of a device bearer; the literal, case-sensitive `Bearer ` prefix is stripped."""
        if not header:
            raise TokenError("no authorization header")
        token = header[len(BEARER_PREFIX):] if header.startswith(BEARER_PREFIX) else header
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"],
                                options={"require": [], "verify_exp": True})
        except jwt.PyJWTError as e:
            raise TokenError(str(e)) from None
        if claims.get("claims") != "device" or not isinstance(claims.get("uid"), str) \
                or not isinstance(claims.get("tenant"), str):
            raise TokenError("not a device token")
        return claims
