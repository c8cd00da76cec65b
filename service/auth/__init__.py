"""Party credentials: password hashes, sealed secrets for PasswordDigest, WS-Security checks."""
