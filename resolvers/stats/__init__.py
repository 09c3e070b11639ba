"""Comparisons for district administrators and platform operators."""
