"""Picking the answering sentence from retrieved passages, and deciding when to abstain."""
