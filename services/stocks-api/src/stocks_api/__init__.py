"""The stocks trading API service."""
