"""Access: API keys, web sign-in and the clearance rule for security incidents.

Modules:
- ``accounts``: people as accounts (a role bounding their keys, disabling) and their admin;
- ``clearance``: who may read a security incident;
- ``keys``: API keys and the audit log;
- ``web_sessions``: web sign-in (key or one-time link).
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["accounts", "clearance", "keys", "web_sessions"]
