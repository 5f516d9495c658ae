"""Platform adapters: Railway (GraphQL API v2) and this machine's supervisord (local)."""
