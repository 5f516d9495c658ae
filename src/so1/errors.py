"""The one exception tree of SO1; entrypoints map it to HTTP problems and CLI messages.

So1Error
├── NotFound                 a named thing does not exist                  → 404
├── Conflict                 the request clashes with current state         → 409
│   └── InvalidTransition    status change not allowed from here           → 409
├── ValidationFailed         input is well-formed but breaks a domain rule  → 422
├── Unauthorized             missing, invalid, expired or revoked key       → 401
├── Forbidden                authenticated but lacking a scope              → 403
├── ConfigurationError       a setting that cannot work: stops start-up     (never HTTP)
└── IntegrationError         an outside system failed                       → 502
    ├── RateLimited          the outside system asked us to slow down       → 503
    ├── AuthFailed           the outside system refused our credentials     → 502
    ├── Rejected             the outside system refused the request (4xx)   → 502
    └── Unavailable          the outside system (or our database) is down   → 503
"""

from __future__ import annotations

from collections.abc import Sequence


class So1Error(Exception):
    """Base of every error SO1 raises on purpose."""

    title = "SO1 error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(So1Error):
    title = "Not found"


class UnknownAgent(NotFound):
    title = "Unknown agent"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"no agent named '{name}'; known agents: {', '.join(known) or 'none'}")
        self.known = list(known)


class Conflict(So1Error):
    title = "Conflict"


class InvalidTransition(Conflict):
    """A status change the incident state machine does not allow."""

    title = "Invalid status transition"

    def __init__(self, current: str, requested: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (final status)"
        super().__init__(
            f"cannot move from '{current}' to '{requested}'; allowed next statuses: {allowed_text}"
        )
        self.current = current
        self.requested = requested
        self.allowed = list(allowed)


class MalformedRequest(So1Error):
    title = "Malformed request"


class ValidationFailed(So1Error):
    title = "Validation failed"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class Unauthorized(So1Error):
    title = "Unauthorized"


class SignInRefused(Unauthorized):
    """A single sign-on refused; ``reason`` is the short audit reason (``wrong issuer``)."""

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


class Forbidden(So1Error):
    title = "Forbidden"


class ConfigurationError(So1Error):
    """Settings an adapter cannot work with; ``detail`` is one line naming the variable."""

    title = "Configuration error"

    def __init__(self, detail: str, variable: str) -> None:
        super().__init__(detail)
        self.variable = variable


class IntegrationError(So1Error):
    title = "Integration error"


class RateLimited(IntegrationError):
    title = "Rate limited"

    def __init__(self, detail: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class AuthFailed(IntegrationError):
    title = "Integration authentication failed"


class Unavailable(IntegrationError):
    title = "Unavailable"


class Rejected(IntegrationError):
    """The outside system refused the request itself (a 4xx other than 429): never retried."""

    title = "Rejected by the outside system"
