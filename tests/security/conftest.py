"""The social tests' provider fixtures, for the attack tests here (tests/security/test_social_email_attacks.py)."""

from tests.social.conftest import providers, recorded  # noqa: F401 (fixtures)
