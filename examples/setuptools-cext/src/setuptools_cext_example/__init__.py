"""Example C extension (setuptools) built through wheelmemo."""

from ._core import describe, greeting, is_prime, primes_below, text_stats

__all__ = ["describe", "greeting", "is_prime", "primes_below", "text_stats"]
