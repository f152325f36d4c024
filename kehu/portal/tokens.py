"""Activation links: like Django's password-reset tokens (HMAC over the user's password hash, last sign-in and
active flag, valid PASSWORD_RESET_TIMEOUT), with their own salt so that a reset link cannot activate and an
activation link stops working once used."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class ActivationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "kehu.portal.activation"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


activation_token = ActivationTokenGenerator()
