"""Fitting the answer model on questions with known answers: above the core, through its public interface."""
