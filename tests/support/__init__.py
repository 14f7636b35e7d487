"""Helpers the test suite shares (never shipped in the package)."""
