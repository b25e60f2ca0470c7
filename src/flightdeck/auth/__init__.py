"""Who is calling: API keys (stored hashed), roles and the principal a request runs as."""

from flightdeck.auth.keys import Authenticator, KeyStore, Principal, Role

__all__ = ["Authenticator", "KeyStore", "Principal", "Role"]
