"""Scoring answer coverage on question sets, against the ministry's 90% target."""
