"""The event bus: domain events published after commit, below every domain (in-process or Redis)."""
