"""Access: API keys, web sign-in and the clearance rule for security incidents.

Modules:
- ``clearance``: who may read a security incident;
- ``keys``: API keys and the audit log;
- ``web_sessions``: web sign-in (key or one-time link).
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["clearance", "keys", "web_sessions"]
