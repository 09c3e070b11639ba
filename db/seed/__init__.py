"""Seed data: the demo world and synthetic data sets."""
